using TorchSharp;
using XTuner.Training.Distributed;
using XTuner.Training.Optim;
using XTuner.Training.Tests.Models;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Optim
{
    /// <summary>The fused host AdamW of offload_optimizer against the libtorch AdamW the device path runs.</summary>
    public class CpuAdamWTests
    {
        [Theory]
        [InlineData(0.0, 1.0)]
        [InlineData(0.1, 0.37)]
        public unsafe void FollowsTheDeviceAdamWElementForElement(double weightDecay, double gradScale)
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(5);
            // An odd length, so the SIMD body and the scalar tail both run, and more than one thread block.
            const long n = (1 << 17) + 13;
            var param = randn(n, generator: generator);
            var (m, v) = (zeros(n), zeros(n));
            var (hostParam, hostM, hostV) = (param.clone(), zeros(n), zeros(n));
            for (long step = 1; step <= 3; step++)
            {
                var grad = randn(n, generator: generator);
                AdamW.Step(param, grad.mul(gradScale), m, v, step, 1e-2, 0.9, 0.95, 1e-8, weightDecay);
                CpuAdamW.Step((float*)TensorMemory.Pointer(hostParam), (float*)TensorMemory.Pointer(grad), (float*)TensorMemory.Pointer(hostM),
                    (float*)TensorMemory.Pointer(hostV), n, step, 1e-2, 0.9, 0.95, 1e-8, weightDecay, gradScale, threads: 2);
            }
            // float32 operation for operation; only where libtorch's vector kernels contract differently can a last bit differ.
            TensorAssert.Close(hostParam, param, 1e-6, "parameters");
            TensorAssert.Close(hostM, m, 1e-6, "first moment");
            TensorAssert.Close(hostV, v, 1e-6, "second moment");
        }
    }
}
