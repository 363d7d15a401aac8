using System;
using System.Collections.Generic;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Keeps the gradients a custom autograd Function returns from backward alive until libtorch has taken them.
    /// libtorch copies them only after the managed backward returns, so they cannot be disposed inside it; and on CUDA
    /// backward runs on an autograd engine thread that has no dispose scope, where they would wait for the garbage
    /// collector while holding device memory. Each thread therefore disposes its previous hand-off at its next one.
    /// </summary>
    internal static class AutogradHandoff
    {
        [ThreadStatic]
        private static List<Tensor>? _pending;

        /// <summary>Returns <paramref name="gradients"/> (nulls for inputs without a gradient) for libtorch to take.</summary>
        public static List<Tensor> Return(IReadOnlyList<Tensor?> gradients)
        {
            var previous = _pending;
            _pending = new List<Tensor>();
            if (previous != null)
            {
                foreach (var tensor in previous)
                    tensor.Dispose();
            }
            var result = new List<Tensor>(gradients.Count);
            foreach (var gradient in gradients)
            {
                if (gradient is not null)
                    _pending.Add(gradient.DetachFromDisposeScope());
                result.Add(gradient!);
            }
            return result;
        }
    }
}
