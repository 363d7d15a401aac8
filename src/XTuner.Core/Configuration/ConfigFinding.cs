using System;
using System.Collections.Generic;
using System.Linq;

namespace XTuner.Core.Configuration
{
    public enum FindingSeverity
    {
        Error,
        Warning,
    }

    /// <summary>One problem with a config: which key, where in the file, what to change.</summary>
    public sealed class ConfigFinding
    {
        public ConfigFinding(FindingSeverity severity, string key, string message, string errorId = ErrorIds.InvalidConfig)
        {
            Severity = severity;
            Key = key;
            Message = message;
            ErrorId = errorId;
        }

        public FindingSeverity Severity { get; }

        /// <summary>The dotted config key, e.g. <c>sequence_parallel_size</c>.</summary>
        public string Key { get; }

        public string Message { get; }

        /// <summary>Stable identifier (PowerShell ErrorId), e.g. <c>XTunerInvalidSequenceParallelSize</c>.</summary>
        public string ErrorId { get; }

        /// <summary>The YAML file, if the finding comes from one.</summary>
        public string? File { get; set; }

        /// <summary>1-based line in <see cref="File"/> (0 when unknown).</summary>
        public int Line { get; set; }

        public int Column { get; set; }

        /// <summary><c>file:line:column</c>, or empty.</summary>
        public string Location =>
            File == null ? "" : Line > 0 ? $"{File}:{Line}:{Column}" : File;

        public override string ToString() =>
            (Location.Length > 0 ? Location + ": " : "") + Message;
    }

    /// <summary>
    /// A config that cannot be read or used; <see cref="Findings"/> lists every problem found, and the ErrorId is that of
    /// the first error among them.
    /// </summary>
    public sealed class XTunerConfigException : XTunerException
    {
        public XTunerConfigException(IReadOnlyList<ConfigFinding> findings)
            : base(FirstErrorId(findings), Describe(findings))
        {
            Findings = findings;
        }

        public XTunerConfigException(ConfigFinding finding)
            : this(new[] { finding })
        {
        }

        public IReadOnlyList<ConfigFinding> Findings { get; }

        private static string FirstErrorId(IReadOnlyList<ConfigFinding> findings) =>
            (findings.FirstOrDefault(f => f.Severity == FindingSeverity.Error) ?? findings.FirstOrDefault())?.ErrorId ?? ErrorIds.InvalidConfig;

        private static string Describe(IReadOnlyList<ConfigFinding> findings)
        {
            var errors = findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count == 1) return errors[0].ToString();
            return $"{errors.Count} problems in the config:" + Environment.NewLine +
                   string.Join(Environment.NewLine, errors.Select(e => "  " + e));
        }
    }
}
