namespace XTuner.Core.Planning
{
    /// <summary>Predicted time of one optimizer step, by part (seconds); nothing is assumed to overlap.</summary>
    public sealed class StepTimeEstimate
    {
        /// <summary>Dense layers (matmuls) over matmul_tflops, every micro-batch.</summary>
        public double Matmuls { get; set; }

        /// <summary>Causal attention over attention_tflops.</summary>
        public double Attention { get; set; }

        /// <summary>The kernels that are not matmuls.</summary>
        public double Elementwise { get; set; }

        /// <summary>Ulysses all-to-all of q, k, v and the attention output.</summary>
        public double AllToAll { get; set; }

        /// <summary>Gradient reduction and ZeRO's gathers.</summary>
        public double ZeroTraffic { get; set; }

        /// <summary>The AdamW update, on the GPU or (offload_optimizer) on the host with its copies.</summary>
        public double Optimizer { get; set; }

        /// <summary>Checkpointed inputs to host memory and back (offload_activations).</summary>
        public double ActivationOffload { get; set; }

        public double Total => Matmuls + Attention + Elementwise + AllToAll + ZeroTraffic + Optimizer + ActivationOffload;
    }
}
