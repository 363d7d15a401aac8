using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// <c>offload_activations</c>: where the checkpointed inputs of the first <see cref="Layers"/> layers wait between
    /// their forward and their recompute (the earliest layers: their inputs are needed last). Every layer has one host buffer, kept from step to step (pinned on CUDA, so the copies are DMA transfers at full
    /// link speed and pinning is paid once); the copies run on the compute stream, so they are ordered with the layers
    /// that produce and consume them. On the CPU the buffers are plain host tensors: the code path is the same, which
    /// is what the exactness tests exercise.
    /// </summary>
    internal sealed class ActivationOffload : IDisposable
    {
        private readonly Dictionary<int, Tensor> _buffers = new Dictionary<int, Tensor>();

        public ActivationOffload(int layers) => Layers = layers;

        /// <summary>Layers 0 to Layers - 1 keep their inputs in host memory.</summary>
        public int Layers { get; }

        /// <summary>Whether layer <paramref name="layer"/>'s input goes to host memory.</summary>
        public bool Covers(int layer) => layer < Layers;

        /// <summary>Copies layer <paramref name="layer"/>'s input into its host buffer.</summary>
        public void ToHost(int layer, Tensor activation)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.Copies);
            using var noGrad = no_grad();
            var buffer = BufferFor(layer, activation);
            buffer.copy_(activation.detach(), nonBlocking: activation.device.type == DeviceType.CUDA);
        }

        /// <summary>Layer <paramref name="layer"/>'s input back on <paramref name="device"/>, as a new tensor.</summary>
        public Tensor FromHost(int layer, Device device)
        {
            using var phase = Engine.StepPhases.Enter(Engine.StepPhases.Copies);
            using var noGrad = no_grad();
            var host = _buffers[layer];
            return device.type == DeviceType.CPU ? host.clone() : host.to(device, non_blocking: true);
        }

        private Tensor BufferFor(int layer, Tensor like)
        {
            if (_buffers.TryGetValue(layer, out var buffer) && buffer.shape.SequenceEqual(like.shape) && buffer.dtype == like.dtype)
                return buffer;
            buffer?.Dispose();
            using (var pageable = empty(like.shape, like.dtype, CPU))
                buffer = like.device.type == DeviceType.CUDA ? pageable.pin_memory() : pageable.clone();
            _buffers[layer] = buffer.DetachFromDisposeScope();
            return buffer;
        }

        public void Dispose()
        {
            foreach (var b in _buffers.Values) b.Dispose();
            _buffers.Clear();
        }
    }
}
