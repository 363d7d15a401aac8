using System;
using XTuner.Training.Distributed;
using XTuner.Training.Kernels;
using XTuner.Training.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Kernels
{
    /// <summary>The cross-entropy kernels' CUDA source on the host (<see cref="HostKernels"/>), against the TorchSharp path of the chunked loss.</summary>
    public class CrossEntropyKernelHostTests
    {
        [Theory]
        [InlineData(ScalarType.Float32, 1.0, 1e-6)]
        [InlineData(ScalarType.BFloat16, 1.0, 1e-2)]
        [InlineData(ScalarType.BFloat16, 0.0625, 1e-2)]
        public unsafe void LossLogSumExpAndLogitGradientAreTheTorchSharpOnes(ScalarType dtype, double scale, double tolerance)
        {
            if (!HostKernels.Ready()) return;
            using var scope = NewDisposeScope();
            manual_seed(19);
            const long rows = 9;
            const int vocab = 1000;
            const uint grid = 4, block = 64;
            var logits = randn(new long[] { rows, vocab }).mul_(3).to(dtype);
            var targets = randint(0, vocab, new long[] { rows }, ScalarType.Int64);
            targets[2] = LanguageModelLoss.IgnoreIndex;
            targets[7] = LanguageModelLoss.IgnoreIndex;
            var coefficient = targets.ne(LanguageModelLoss.IgnoreIndex).to(ScalarType.Float32).mul_(0.37 * scale);
            var suffix = dtype == ScalarType.BFloat16 ? "bf16" : "f32";
            var t = dtype == ScalarType.BFloat16 ? "bf16" : "float";

            var lse = full(new long[] { rows }, float.NaN, ScalarType.Float32);
            var loss = full(new long[] { rows }, float.NaN, ScalarType.Float32);
            var forward = (delegate* unmanaged<uint, uint, IntPtr, IntPtr, IntPtr, IntPtr, long, int, float, long, void>)HostKernels.Launcher(
                CrossEntropyKernel.Source, "cross_entropy_forward_" + suffix,
                $"const {t}* logits, const long long* targets, float* lse, float* loss, long long rows, int vocab, float scale, long long ignore");
            forward(grid, block, TensorMemory.Pointer(logits), TensorMemory.Pointer(targets), TensorMemory.Pointer(lse), TensorMemory.Pointer(loss),
                rows, vocab, (float)scale, LanguageModelLoss.IgnoreIndex);
            var grad = empty_like(logits);
            var backward = (delegate* unmanaged<IntPtr, IntPtr, IntPtr, IntPtr, IntPtr, long, int, float, void>)HostKernels.Function(
                CrossEntropyKernel.Source, "cross_entropy_backward_" + suffix);
            backward(TensorMemory.Pointer(logits), TensorMemory.Pointer(targets), TensorMemory.Pointer(lse), TensorMemory.Pointer(coefficient),
                TensorMemory.Pointer(grad), rows, vocab, (float)scale);

            // The TorchSharp path of ChunkedCrossEntropy, step by step.
            var wide = logits.to(ScalarType.Float32).mul(scale);
            var expectedLse = wide.logsumexp(1);
            var valid = targets.ne(LanguageModelLoss.IgnoreIndex);
            var picked = wide.gather(1, targets.clamp_min(0).unsqueeze(1)).squeeze(1);
            var expectedLoss = expectedLse.sub(picked).mul_(valid);
            var probabilities = wide.sub(expectedLse.unsqueeze(1)).exp_();
            probabilities.scatter_add_(1, targets.clamp_min(0).unsqueeze(1), full(rows, 1, -1.0f, ScalarType.Float32));
            var expectedGrad = probabilities.mul_(coefficient.unsqueeze(1)).to(dtype);

            Assert.InRange(HostKernels.Relative(lse, expectedLse), 0, 1e-6);
            Assert.InRange(HostKernels.Relative(loss, expectedLoss), 0, 1e-6);
            Assert.Equal(0f, loss[2].item<float>());
            Assert.InRange(HostKernels.Relative(grad, expectedGrad), 0, tolerance);
            Assert.True(grad[7].eq(0).all().item<bool>(), "an ignored row has no gradient");
        }
    }
}
