namespace XTuner.Core.Models
{
    /// <summary>How a head's dimensions are paired for rotation.</summary>
    public enum RotaryLayout
    {
        /// <summary>Dimension i rotates with i + D/2 (Llama, Mistral, Qwen2, InternLM2).</summary>
        HalfSplit,

        /// <summary>Dimension 2i rotates with 2i+1, computed in float32 (Cohere).</summary>
        Interleaved,
    }
}
