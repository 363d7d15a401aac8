using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>transformers' initializer_range: linear and embedding weights start as N(0, 0.02).</summary>
    public static class ModelInit
    {
        public const double Std = 0.02;

        [System.ThreadStatic]
        private static int _skip;

        /// <summary>
        /// Models built on this thread while the returned scope lives get uninitialised weights: a checkpoint or a
        /// resumed optimizer state overwrites every one of them, so drawing N random numbers first would be waste.
        /// </summary>
        public static System.IDisposable Uninitialized()
        {
            _skip++;
            return new Scope();
        }

        private sealed class Scope : System.IDisposable
        {
            private bool _done;

            public void Dispose()
            {
                if (_done) return;
                _done = true;
                _skip--;
            }
        }

        /// <summary>
        /// A weight drawn from N(0, <see cref="Std"/>) in float32 with the seeded CPU generator, then moved to the
        /// device and dtype: the same seed gives the same model on the CPU and on any GPU, whatever the ZeRO stage
        /// (CUDA's generator would draw other numbers). The meta device only records the shape.
        /// </summary>
        public static Tensor Normal(long[] shape, ScalarType dtype, Device device)
        {
            if (device.type == TorchSharp.DeviceType.META || _skip > 0) return empty(shape, dtype, device);
            using var drawn = empty(shape, ScalarType.Float32, CPU).normal_(0, Std);
            return drawn.to(dtype, device);
        }
    }
}
