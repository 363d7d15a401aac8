using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Core.Configuration;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// The modules of one model family: its decoder layers and final norm, under the checkpoint's names. What the family
    /// means outside the tensors (config.json, tensor names, rotary layout, template) is its
    /// <see cref="Core.Models.ModelFamily"/>; a factory is found by the architectures it builds, so adding a family
    /// means adding its folder, not editing a switch.
    /// </summary>
    internal abstract class LayerFactory
    {
        private static readonly IReadOnlyList<LayerFactory> Factories = typeof(LayerFactory).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(LayerFactory)) && !t.IsAbstract)
            .Select(t => (LayerFactory)Activator.CreateInstance(t)!)
            .ToList();

        /// <summary>The architectures whose checkpoints these modules load.</summary>
        public abstract IReadOnlyList<ModelArchitecture> Architectures { get; }

        public abstract DecoderLayer CreateLayer(DecoderShape shape, Device device, ScalarType dtype);

        /// <summary>The norm after the last layer (<c>model.norm</c>).</summary>
        public virtual nn.Module<Tensor, Tensor> CreateFinalNorm(DecoderShape shape, Device device, ScalarType dtype) =>
            new RmsNorm(shape.HiddenSize, shape.NormEps, device, dtype);

        public static LayerFactory For(ModelArchitecture architecture) =>
            Factories.FirstOrDefault(f => f.Architectures.Contains(architecture))
            ?? throw new NotSupportedException($"No layer factory builds {architecture} models.");
    }
}
