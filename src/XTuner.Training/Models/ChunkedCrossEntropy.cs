using System.Collections.Generic;
using XTuner.Training.Kernels;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Summed cross-entropy of hidden states against an output projection, chunked over tokens. Forward keeps only the
    /// per-token log-sum-exp; backward recomputes each chunk's logits to form softmax - onehot. Logits are produced in
    /// the inputs' dtype (as lm_head does) and turned into probabilities in float32; with the fused kernels on CUDA
    /// that float32 work is one kernel per chunk and direction (<see cref="CrossEntropyKernel"/>), with no float32 copy.
    /// </summary>
    internal sealed class ChunkedCrossEntropy : autograd.SingleTensorFunction<ChunkedCrossEntropy>
    {
        private const string ScaleKey = "scale";
        private const string ChunkKey = "chunk";

        public override string Name => nameof(ChunkedCrossEntropy);

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var hidden = (Tensor)vars[0];
            var weight = (Tensor)vars[1];
            var targets = (Tensor)vars[2];
            var scale = (double)vars[3];
            var chunk = (int)vars[4];
            using var scope = NewDisposeScope();
            long count = hidden.shape[0];
            bool fused = Fused(hidden, targets);
            var logSumExp = empty(count, ScalarType.Float32, hidden.device);
            var total = zeros(1, ScalarType.Float32, hidden.device);
            for (long start = 0; start < count; start += chunk)
            {
                var rows = System.Math.Min(chunk, count - start);
                using var chunkScope = NewDisposeScope();
                var chunkTargets = targets.narrow(0, start, rows);
                if (fused)
                {
                    // The logits stay in the model's dtype: no float32 copy of them exists.
                    var raw = hidden.narrow(0, start, rows).mm(weight.t());
                    total.add_(CrossEntropyKernel.Forward(raw, chunkTargets, scale, LanguageModelLoss.IgnoreIndex, logSumExp.narrow(0, start, rows)).sum());
                    continue;
                }
                var logits = ChunkLogits(hidden.narrow(0, start, rows), weight, scale);
                var lse = logits.logsumexp(1);
                logSumExp.narrow(0, start, rows).copy_(lse);
                var valid = chunkTargets.ne(LanguageModelLoss.IgnoreIndex);
                var picked = logits.gather(1, chunkTargets.clamp_min(0).unsqueeze(1)).squeeze(1);
                total.add_(lse.sub_(picked).mul_(valid).sum());
            }
            ctx.save_for_backward(new List<Tensor> { hidden, weight, targets, logSumExp.MoveToOuterDisposeScope() });
            ctx.save_data(ScaleKey, scale);
            ctx.save_data(ChunkKey, chunk);
            return total.squeeze(0).MoveToOuterDisposeScope();
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            Tensor hidden = saved[0], weight = saved[1], targets = saved[2], logSumExp = saved[3];
            var scale = (double)ctx.get_data(ScaleKey);
            var chunk = (int)ctx.get_data(ChunkKey);
            long count = hidden.shape[0];
            bool fused = Fused(hidden, targets);
            // d(sum)/d(raw logits) = gradOutput * scale * (softmax - onehot) on valid rows.
            var rowScale = gradOutput.to(ScalarType.Float32).mul(scale);
            var hiddenGradient = empty_like(hidden);
            // Accumulating chunk by chunk in the weight's dtype: each chunk is one GEMM with float32 accumulation.
            var weightGradient = zeros_like(weight);
            for (long start = 0; start < count; start += chunk)
            {
                var rows = System.Math.Min(chunk, count - start);
                using var chunkScope = NewDisposeScope();
                var chunkHidden = hidden.narrow(0, start, rows);
                var chunkTargets = targets.narrow(0, start, rows);
                var coefficient = chunkTargets.ne(LanguageModelLoss.IgnoreIndex).to(ScalarType.Float32).mul_(rowScale);
                Tensor logitGradient;
                if (fused)
                    logitGradient = CrossEntropyKernel.Backward(chunkHidden.mm(weight.t()), chunkTargets, logSumExp.narrow(0, start, rows), coefficient, scale);
                else
                {
                    var probabilities = ChunkLogits(chunkHidden, weight, scale)
                        .sub_(logSumExp.narrow(0, start, rows).unsqueeze(1)).exp_();
                    var index = chunkTargets.clamp_min(0).unsqueeze(1);
                    probabilities.scatter_add_(1, index, full(rows, 1, -1.0f, ScalarType.Float32, hidden.device));
                    logitGradient = probabilities.mul_(coefficient.unsqueeze(1)).to(hidden.dtype);
                }
                hiddenGradient.narrow(0, start, rows).addmm_(logitGradient, weight, beta: 0);
                weightGradient.addmm_(logitGradient.t(), chunkHidden);
            }
            gradOutput.Dispose();
            return AutogradHandoff.Return(new Tensor?[] { hiddenGradient, weightGradient, null, null, null });
        }

        // With the fused kernels on CUDA, each chunk's float32 work is one kernel on the model-dtype logits.
        private static bool Fused(Tensor hidden, Tensor targets) => FusedKernels.For(hidden.device) && CrossEntropyKernel.Supports(hidden, targets);

        private static Tensor ChunkLogits(Tensor hidden, Tensor weight, double scale)
        {
            var logits = hidden.mm(weight.t()).to(ScalarType.Float32);
            return scale == 1.0 ? logits : logits.mul_(scale);
        }
    }
}
