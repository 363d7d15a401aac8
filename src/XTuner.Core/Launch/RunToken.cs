using System.Security.Cryptography;
using System.Text;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// The secret of one run: every rank proves it knows it before the rendezvous store or a peer reads anything from
    /// its connection (challenge-response; the secret itself never crosses the wire). xtuner's launcher makes one per
    /// run and the sbatch script one per job; ranks started by another launcher (torchrun, an srun of your own) read it
    /// from <see cref="Variable"/>, which a run across several nodes requires.
    /// </summary>
    public static class RunToken
    {
        public const string Variable = "XTUNER_RUN_TOKEN";

        /// <summary>The address the rendezvous store and the peer connections listen on, instead of the one xtuner picks.</summary>
        public const string BindAddressVariable = "XTUNER_BIND_ADDR";

        /// <summary>The secret this process was given (<see cref="Variable"/>), or null.</summary>
        public static string? FromEnvironment()
        {
            var value = System.Environment.GetEnvironmentVariable(Variable);
            return string.IsNullOrEmpty(value) ? null : value;
        }

        /// <summary>A fresh secret: 32 random bytes as 64 hex digits (what the sbatch script makes with od).</summary>
        public static string New()
        {
            var bytes = new byte[32];
            using (var random = RandomNumberGenerator.Create()) random.GetBytes(bytes);
            var hex = new StringBuilder(64);
            foreach (var b in bytes) hex.Append(b.ToString("x2"));
            return hex.ToString();
        }

        /// <summary>A bash line that exports a fresh secret unless one is set already (the submitting shell's, which sbatch passes on).</summary>
        public const string BashExport = "export " + Variable + "=\"${" + Variable + ":-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \\n')}\"";
    }
}
