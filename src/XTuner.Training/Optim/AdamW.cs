using System;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// One AdamW update, operation for operation as torch.optim.AdamW's single-tensor path, in place on float32
    /// tensors of any shape and device: whole parameters or the flat shards ZeRO keeps.
    /// </summary>
    public static class AdamW
    {
        /// <summary>
        /// Updates <paramref name="param"/>, <paramref name="expAvg"/> and <paramref name="expAvgSq"/> for the
        /// 1-based <paramref name="step"/>: decoupled decay p *= 1 - lr*wd, m = lerp(m, g, 1 - beta1),
        /// v = beta2 v + (1 - beta2) g², p -= lr/(1 - beta1^t) * m / (sqrt(v)/sqrt(1 - beta2^t) + eps).
        /// </summary>
        public static void Step(Tensor param, Tensor grad, Tensor expAvg, Tensor expAvgSq, long step,
            double lr, double beta1, double beta2, double eps, double weightDecay)
        {
            if (step < 1)
                throw new ArgumentOutOfRangeException(nameof(step), step, "AdamW steps count from 1.");
            foreach (var (tensor, name) in new[] { (param, nameof(param)), (expAvg, nameof(expAvg)), (expAvgSq, nameof(expAvgSq)) })
            {
                if (tensor.dtype != ScalarType.Float32)
                    throw new ArgumentException($"AdamW updates float32 tensors; {name} is {tensor.dtype}.", name);
                if (!tensor.shape.AsSpan().SequenceEqual(grad.shape))
                    throw new ArgumentException($"{name} [{string.Join(", ", tensor.shape)}] and grad [{string.Join(", ", grad.shape)}] differ in shape.", name);
            }
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var g = grad.to(ScalarType.Float32);
            if (weightDecay != 0)
                param.mul_(1 - lr * weightDecay);
            // torch lerps the first moment; a 0-dim weight made on the device keeps the step free of host copies.
            expAvg.lerp_(g, full(Array.Empty<long>(), 1 - beta1, ScalarType.Float32, param.device));
            expAvgSq.mul_(beta2).addcmul_(g, g, 1 - beta2);
            var biasCorrection1 = 1 - Math.Pow(beta1, step);
            var biasCorrection2 = 1 - Math.Pow(beta2, step);
            var denominator = expAvgSq.sqrt().div_(Math.Pow(biasCorrection2, 0.5)).add_(eps);
            param.addcdiv_(expAvg, denominator, -(lr / biasCorrection1));
        }
    }
}
