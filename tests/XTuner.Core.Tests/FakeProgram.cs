using System;
using System.IO;

namespace XTuner.Core.Tests
{
    /// <summary>Shell scripts that stand in for programs xtuner runs (sbatch, srun, python3) in a folder used as PATH.</summary>
    internal static class FakeProgram
    {
        /// <summary>Writes <paramref name="dir"/>/<paramref name="name"/>, an executable /bin/sh script; returns its path.</summary>
        public static string Write(string dir, string name, string script)
        {
            Directory.CreateDirectory(dir);
            var path = Path.Combine(dir, name);
            File.WriteAllText(path, "#!/bin/sh\n" + script + "\n");
            if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return path;
        }
    }
}
