using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Kernels;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// Mixed-precision AdamW over the whole world: the model computes in its own dtype, float32 master weights and
    /// both moments live in <see cref="IOptimizerStates"/>, and the ZeRO strategy decides how gradients are reduced
    /// and which shard this rank updates. Gradients are SUMMED over the world (each rank back-propagated local loss /
    /// global token count, so the sum is the exact gradient of the global token-mean loss), clipped to the global norm
    /// and applied unit by unit.
    /// </summary>
    public sealed class MixedPrecisionAdamW : IDisposable
    {
        private readonly IProcessGroup _world;
        private readonly OptimizerSettings _settings;

        public MixedPrecisionAdamW(IZeroStrategy zero, IOptimizerStates states, IProcessGroup world, OptimizerSettings settings)
        {
            Zero = zero;
            States = states;
            _world = world;
            _settings = settings;
        }

        public IZeroStrategy Zero { get; }

        public IOptimizerStates States { get; }

        /// <summary>Optimizer steps taken (AdamW's t).</summary>
        public long Step { get; private set; }

        /// <summary>
        /// Diagnostics: called on every rank with each parameter's full gradient summed over the world, before clipping
        /// (the exactness dump; shards are gathered for it, which is a collective).
        /// </summary>
        public event Action<IReadOnlyList<KeyValuePair<string, Tensor>>>? ReducedGradients;

        /// <summary>
        /// Reduces gradients over the world, clips them to the global norm and takes one AdamW step with learning rate
        /// <paramref name="lr"/>. Returns the gradient norm before clipping. Gradients are cleared afterwards.
        /// </summary>
        public double StepAll(double lr)
        {
            Step++;
            var units = Zero.Units;
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            // On the gradients' device (where the collectives run), wherever the optimizer states live.
            Tensor? sumOfSquares = null;
            for (int u = 0; u < units.Count; u++)
            {
                // Each unit's float32 gradient is as large as a layer: free it before the next one.
                using var unitScope = NewDisposeScope();
                var reduced = Zero.ReduceGradient(u);
                sumOfSquares ??= zeros(1, ScalarType.Float32, reduced.device).MoveToOuterDisposeScope();
                sumOfSquares.add_(SumOfSquares(reduced));
            }
            if (Zero.GradientsSharded) _world.AllReduce(sumOfSquares!);
            if (ReducedGradients != null) ReducedGradients(FullGradients());
            double norm = Math.Sqrt(sumOfSquares!.item<float>());
            // A NaN or infinite gradient would spread into every weight and state: nothing is updated (the run stops on it).
            if (!double.IsFinite(norm))
            {
                Step--;
                return norm;
            }
            double scale = _settings.MaxNorm > 0 && norm > _settings.MaxNorm ? _settings.MaxNorm / (norm + 1e-6) : 1.0;
            for (int u = 0; u < units.Count; u++)
            {
                using var unitScope = NewDisposeScope();
                States.Update(u, Zero.GradientShard(u), scale, Step, lr);
                Zero.WriteShard(u, States.Values(u, ParameterType(u)));
            }
            return norm;
        }

        /// <summary>Restores a checkpoint's states (same world size and stage) and the model's parameters from them.</summary>
        public void LoadState(SafetensorsFile file, long step)
        {
            States.Load(file);
            using var noGrad = no_grad();
            for (int u = 0; u < Zero.Units.Count; u++) Zero.WriteShard(u, States.Values(u, ParameterType(u)));
            Step = step;
        }

        // In float32 whatever the gradient's dtype; a bf16 gradient is read as it is where the fused kernels run.
        private static Tensor SumOfSquares(Tensor gradient)
        {
            if (FusedKernels.For(gradient.device) && SumOfSquaresKernel.Supports(gradient)) return SumOfSquaresKernel.Apply(gradient);
            var g = gradient.to(ScalarType.Float32);
            return g.dot(g);
        }

        private ScalarType ParameterType(int u) => Zero.Units[u].Slots[0].Parameter!.dtype;

        // Every parameter's whole reduced gradient in float32, in the dispose scope of the caller.
        private List<KeyValuePair<string, Tensor>> FullGradients()
        {
            var grads = new List<KeyValuePair<string, Tensor>>();
            for (int u = 0; u < Zero.Units.Count; u++)
            {
                var unit = Zero.Units[u];
                var shard = Zero.GradientShard(u).to(ScalarType.Float32);
                var whole = shard;
                if (unit.ShardLength < unit.PaddedNumel)
                {
                    whole = empty(unit.PaddedNumel, ScalarType.Float32, shard.device);
                    _world.AllGather(whole, shard);
                }
                grads.AddRange(unit.Slots.Select(slot =>
                    new KeyValuePair<string, Tensor>(slot.Name, whole.narrow(0, slot.Offset, slot.Numel).view(slot.Shape))));
            }
            return grads;
        }

        public void Dispose()
        {
            States.Dispose();
            Zero.Dispose();
        }
    }
}
