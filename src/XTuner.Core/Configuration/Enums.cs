namespace XTuner.Core.Configuration
{
    /// <summary>How each line of a JSONL dataset is read.</summary>
    public enum DatasetFormat
    {
        /// <summary><c>{"text": ...}</c>: pre-training; every token is a target.</summary>
        Text,
        /// <summary><c>{"instruction", "input", "output"}</c>: the prompt is masked from the loss.</summary>
        Alpaca,
        /// <summary><c>{"messages": [{"role", "content"}]}</c> rendered with the prompt template.</summary>
        Chat,
        /// <summary><c>{"input_ids": [...], "labels": [...]}</c>: no tokenizer needed.</summary>
        Tokenized,
        /// <summary>Seeded random token ids (benchmarks; no files, no tokenizer).</summary>
        Synthetic,
    }

    /// <summary>Training precision.</summary>
    public enum TrainingDType
    {
        [ConfigAlias("fp32")] [ConfigAlias("float")]
        Float32,
        [ConfigAlias("bf16")]
        BFloat16,
    }

    /// <summary>Where the ranks compute.</summary>
    public enum DeviceKind
    {
        Cpu,
        [ConfigAlias("gpu")]
        Cuda,
    }

    /// <summary>Whether the fused CUDA kernels replace the TorchSharp ops (<c>fused_kernels</c>).</summary>
    public enum FusedKernelsMode
    {
        /// <summary>On CUDA when NVRTC loads (one line says why not); the TorchSharp ops on the CPU.</summary>
        Auto,
        /// <summary>Always; refused on the CPU and without NVRTC.</summary>
        [ConfigName("true")] [ConfigAlias("on")] [ConfigAlias("yes")]
        On,
        /// <summary>Never: the TorchSharp ops.</summary>
        [ConfigName("false")] [ConfigAlias("off")] [ConfigAlias("no")]
        Off,
    }

    /// <summary>Whether each layer's compute-dtype weights exist only while it runs, cast from the float32 master (<c>cast_weights_per_layer</c>).</summary>
    public enum WeightCastMode
    {
        /// <summary>On CUDA wherever this rank holds the whole float32 master on its device (not with offload_optimizer, zero_stage 3, or zero_stage 1-2 over several ranks).</summary>
        Auto,
        /// <summary>Always; refused where the master is not whole on the device.</summary>
        [ConfigName("true")] [ConfigAlias("on")] [ConfigAlias("yes")]
        On,
        /// <summary>Never: the weights stay in the compute dtype beside the master for the whole run.</summary>
        [ConfigName("false")] [ConfigAlias("off")] [ConfigAlias("no")]
        Off,
    }

    /// <summary>How ranks are started.</summary>
    public enum LauncherKind
    {
        Local,
        Slurm,
    }

    /// <summary>Decoder families the training core implements.</summary>
    public enum ModelArchitecture
    {
        /// <summary>Llama 2/3, Yi, TinyLlama and other LlamaForCausalLM checkpoints.</summary>
        Llama,
        Mistral,
        /// <summary>Qwen2: q/k/v biases.</summary>
        Qwen2,
        /// <summary>InternLM2: packed <c>wqkv</c> and its own tensor names.</summary>
        InternLM2,
        /// <summary>Cohere / Command R(+): parallel block, LayerNorm, optional q/k norm, interleaved RoPE.</summary>
        Cohere,
    }

    /// <summary>RoPE frequency scalings used by published checkpoints.</summary>
    public enum RopeType
    {
        Default,
        Linear,
        Dynamic,
        Llama3,
        Yarn,
    }
}
