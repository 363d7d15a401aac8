namespace XTuner.Training.Optim
{
    /// <summary>AdamW settings and gradient clipping.</summary>
    public sealed class OptimizerSettings
    {
        public double Beta1 { get; set; } = 0.9;
        public double Beta2 { get; set; } = 0.999;
        public double Eps { get; set; } = 1e-8;
        public double WeightDecay { get; set; }
        /// <summary>Global gradient-norm clip; 0 turns clipping off.</summary>
        public double MaxNorm { get; set; }
    }
}
