using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.Optim;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Diagnostics for the exactness tests: with <see cref="EnvironmentVariable"/> set, rank 0 writes every step's
    /// reduced gradients (before clipping) and updated parameters, whole and in float32, as safetensors files that the
    /// tests compare with one process. Gathering them is collective, so every rank takes part.
    /// </summary>
    internal sealed class ExactnessDump : ITrainingObserver
    {
        public const string EnvironmentVariable = "XTUNER_DUMP_DIR";

        private readonly string _folder;
        private readonly MixedPrecisionAdamW _optimizer;
        private readonly DecoderModel _model;
        private readonly bool _writes;

        private ExactnessDump(string folder, MixedPrecisionAdamW optimizer, DecoderModel model, bool writes)
        {
            _folder = folder;
            _optimizer = optimizer;
            _model = model;
            _writes = writes;
            Directory.CreateDirectory(folder);
            optimizer.ReducedGradients += grads =>
            {
                if (_writes) SafetensorsWriter.Write(Path.Combine(_folder, $"grads-step{_optimizer.Step}.safetensors"), grads);
            };
        }

        /// <summary>The dump the environment asks for, or null.</summary>
        public static ExactnessDump? FromEnvironment(MixedPrecisionAdamW optimizer, DecoderModel model, bool rankZero)
        {
            var folder = Environment.GetEnvironmentVariable(EnvironmentVariable);
            return string.IsNullOrEmpty(folder) ? null : new ExactnessDump(folder!, optimizer, model, rankZero);
        }

        public void AfterOptimizerStep(int step)
        {
            _optimizer.Zero.GatherParameters();
            if (_writes)
                SafetensorsWriter.Write(Path.Combine(_folder, $"params-step{step}.safetensors"),
                    _model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList(), ScalarType.Float32);
            _optimizer.Zero.ReleaseParameters();
        }
    }
}
