using System;
using System.IO;

namespace XTuner.Core.Tests
{
    internal static class TempDir
    {
        public static string Create()
        {
            var dir = Path.Combine(Path.GetTempPath(), "xtuner-core-tests", Guid.NewGuid().ToString("N").Substring(0, 12));
            Directory.CreateDirectory(dir);
            return dir;
        }
    }
}
