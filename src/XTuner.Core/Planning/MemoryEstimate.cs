namespace XTuner.Core.Planning
{
    /// <summary>Predicted peak GPU memory of one rank, by part, and the host memory of one node (bytes).</summary>
    public sealed class MemoryEstimate
    {
        /// <summary>bf16 weights: all of them, or under ZeRO-3 this rank's shard and the layer being gathered.</summary>
        public double Parameters { get; set; }

        /// <summary>Gradients: bf16 .grad, float32 shards and accumulators as the ZeRO stage keeps them.</summary>
        public double Gradients { get; set; }

        /// <summary>float32 master weights and both AdamW moments on the GPU (none with offload_optimizer).</summary>
        public double OptimizerStates { get; set; }

        /// <summary>Checkpointed layer inputs kept on the GPU, or every layer's saved tensors without recompute.</summary>
        public double Activations { get; set; }

        /// <summary>What one layer's recompute and backward hold at once beside what is kept, MLP tiles included (less with layers kept whole: the top one recomputes nothing).</summary>
        public double LayerWorkingSet { get; set; }

        /// <summary>The chunked loss's logits and the attention all-to-all buffers.</summary>
        public double Workspaces { get; set; }

        /// <summary>The flat float32 buffer a unit's gradients are reduced in (several ranks only).</summary>
        public double CommunicationBuffers { get; set; }

        /// <summary>The CUDA context and libtorch's workspaces.</summary>
        public double Context { get; set; }

        public double PeakGpu => Parameters + Gradients + OptimizerStates + Activations + LayerWorkingSet + Workspaces + CommunicationBuffers + Context;

        /// <summary>Host memory of one node: its ranks' processes, offloaded optimizer states and activations.</summary>
        public double HostPerNode { get; set; }

        /// <summary>Layers whose checkpointed inputs live in host memory (offload_activations resolved).</summary>
        public int OffloadedLayers { get; set; }

        /// <summary>Layers recomputed in backward (for activation_checkpointing auto, as many as the memory left cannot keep).</summary>
        public int RecomputedLayers { get; set; }

        /// <summary>Of the recomputed layers, those that rerun attention (the others keep its inputs and output: recompute_attention resolved).</summary>
        public int AttentionRecomputedLayers { get; set; }
    }
}
