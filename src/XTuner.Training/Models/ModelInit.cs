namespace XTuner.Training.Models
{
    /// <summary>transformers' initializer_range: linear and embedding weights start as N(0, 0.02).</summary>
    internal static class ModelInit
    {
        public const double Std = 0.02;
    }
}
