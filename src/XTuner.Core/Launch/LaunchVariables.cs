using System.Collections;
using System.Globalization;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// Launcher environment lookups (torchrun's, SLURM's, XTuner's) that treat an empty value as unset and name the
    /// variable in every error (<see cref="ErrorIds.InvalidRankEnvironment"/>).
    /// </summary>
    internal sealed class LaunchVariables
    {
        private readonly IDictionary _env;

        public LaunchVariables(IDictionary env) => _env = env;

        public string? Get(string name)
        {
            var value = _env.Contains(name) ? _env[name] as string : null;
            return string.IsNullOrWhiteSpace(value) ? null : value!.Trim();
        }

        public bool Has(string name) => Get(name) != null;

        public string Required(string name, string what) =>
            Get(name) ?? throw Invalid($"{name} ({what}) is not set.");

        public long Long(string name, long min)
        {
            var text = Required(name, "a number");
            if (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                throw Invalid($"{name}='{text}' is not a whole number.");
            if (value < min) throw Invalid($"{name}={value} must be {min} or more.");
            return value;
        }

        public int Int(string name, int min, int max = int.MaxValue)
        {
            var text = Required(name, "a number");
            if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
                throw Invalid($"{name}='{text}' is not a whole number.");
            if (value < min || value > max)
                throw Invalid(max == int.MaxValue ? $"{name}={value} must be {min} or more." : $"{name}={value} must be between {min} and {max}.");
            return value;
        }

        public static XTunerException Invalid(string message) => new XTunerException(ErrorIds.InvalidRankEnvironment, message);
    }
}
