using System;
using System.Collections.Generic;
using XTuner.Training.IO;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// Where this rank's float32 master weights and AdamW moments live (one shard per unit, as its
    /// <see cref="IZeroStrategy"/> lays them out) and where their update runs: on the compute device, or elsewhere
    /// (host memory) without the ZeRO strategies or the AdamW loop knowing.
    /// </summary>
    public interface IOptimizerStates : IDisposable
    {
        /// <summary>This rank's float32 master shard of unit <paramref name="u"/>, as last updated.</summary>
        Tensor Master(int u);

        /// <summary>
        /// One AdamW step of unit <paramref name="u"/>'s shard from <paramref name="gradient"/> (this rank's shard of the
        /// reduced gradient, any dtype and device) times <paramref name="gradientScale"/> (the clip).
        /// </summary>
        void Update(int u, Tensor gradient, double gradientScale, long step, double lr);

        /// <summary>The states as named tensors, for a checkpoint.</summary>
        IReadOnlyList<KeyValuePair<string, Tensor>> StateTensors();

        /// <summary>Restores what <see cref="StateTensors"/> saved (same world size and stage).</summary>
        void Load(SafetensorsFile file);
    }
}
