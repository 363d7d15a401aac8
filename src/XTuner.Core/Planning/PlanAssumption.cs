namespace XTuner.Core.Planning
{
    /// <summary>One named constant of the planner's model: its value, unit, and where the value comes from.</summary>
    public sealed class PlanAssumption
    {
        public PlanAssumption(string name, double value, string unit, string source, bool overridden = false)
        {
            Name = name;
            Value = value;
            Unit = unit;
            Source = source;
            Overridden = overridden;
        }

        /// <summary>The key <c>--assume</c> and <c>-Assume</c> take, e.g. <c>matmul_tflops</c>.</summary>
        public string Name { get; }

        public double Value { get; }

        public string Unit { get; }

        /// <summary>The measurement or datasheet behind the default.</summary>
        public string Source { get; }

        /// <summary>Set by the user rather than the default.</summary>
        public bool Overridden { get; }

        public override string ToString() => $"{Name}={Value:G4}";
    }
}
