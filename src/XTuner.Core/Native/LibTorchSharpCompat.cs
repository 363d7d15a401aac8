using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;

namespace XTuner.Core.Native
{
    /// <summary>
    /// Makes TorchSharp's native shim load on hosts whose libstdc++ is older than the one it was linked against
    /// (Debian 12, Ubuntu 22.04). TorchSharp 0.107's libLibTorchSharp.so asks for GLIBCXX_3.4.32 for one symbol,
    /// <c>std::ios_base_library_init</c>, a link-time marker that is never called; marking that version need weak
    /// lets the loader accept the library. Other missing versions are real and are reported, not hidden.
    /// </summary>
    public static class LibTorchSharpCompat
    {
        /// <summary>The one version that is safe to make weak.</summary>
        public const string MarkerVersion = "GLIBCXX_3.4.32";

        /// <summary>The libstdc++ this process uses (from /proc/self/maps), else the usual system paths.</summary>
        public static string? HostLibStdCxx()
        {
            try
            {
                var mapped = File.ReadLines("/proc/self/maps")
                    .Select(l => l.Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries))
                    .Where(p => p.Length >= 6 && p[5].Contains("libstdc++.so"))
                    .Select(p => p[5])
                    .FirstOrDefault();
                if (mapped != null && File.Exists(mapped)) return mapped;
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
            return new[]
            {
                "/usr/lib/x86_64-linux-gnu/libstdc++.so.6", "/lib/x86_64-linux-gnu/libstdc++.so.6",
                "/usr/lib64/libstdc++.so.6", "/lib64/libstdc++.so.6", "/usr/lib/libstdc++.so.6",
            }.FirstOrDefault(File.Exists);
        }

        /// <summary>Versions the library needs from libstdc++ that the host's libstdc++ does not define.</summary>
        public static IReadOnlyList<VersionNeed> MissingOnHost(string library, string hostLibStdCxx)
        {
            var defined = new HashSet<string>(ElfVersions.Load(hostLibStdCxx).Defined);
            return ElfVersions.Load(library).Needed
                .Where(n => n.Library.StartsWith("libstdc++", StringComparison.Ordinal) && !defined.Contains(n.Version))
                .ToList();
        }

        /// <summary>
        /// Patches <paramref name="library"/> when the host lacks the marker version (or always, for a library that
        /// travels to other machines). Returns a line saying what was done.
        /// </summary>
        public static string Apply(string library, bool always, string? hostLibStdCxx = null)
        {
            var elf = ElfVersions.Load(library);
            if (!elf.Needed.Any(n => n.Version == MarkerVersion))
                return $"{library}: does not need {MarkerVersion}; nothing to do.";
            if (!always)
            {
                var host = hostLibStdCxx ?? HostLibStdCxx();
                if (host == null) return $"{library}: no libstdc++ found on this host; left as it is.";
                var missing = MissingOnHost(library, host);
                if (!missing.Any(m => m.Version == MarkerVersion))
                    return $"{library}: {host} defines {MarkerVersion}; left as it is.";
                var other = missing.Where(m => m.Version != MarkerVersion && !m.IsWeak).Select(m => m.Version).ToList();
                if (other.Count > 0)
                    throw new InvalidOperationException(
                        $"{library} needs {string.Join(", ", other)} from libstdc++, which {host} lacks; install a newer libstdc++ (e.g. gcc 13's) or point LD_LIBRARY_PATH at one.");
            }
            return elf.MarkWeak(MarkerVersion)
                ? $"{library}: marked the {MarkerVersion} need weak."
                : $"{library}: {MarkerVersion} need already weak.";
        }
    }
}
