using System;
using System.Collections.Generic;
using System.IO;

namespace XTuner.Training.Tests.Tokenization
{
    /// <summary>Base for tests that write files: each test's folders are removed when xunit disposes the test.</summary>
    public abstract class TempFolderTest : IDisposable
    {
        private readonly List<string> _folders = new List<string>();

        /// <summary>A fresh empty folder under the system temp folder.</summary>
        protected string TempFolder()
        {
            var path = Path.Combine(Path.GetTempPath(), "xtuner-tests", Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(path);
            _folders.Add(path);
            return path;
        }

        public void Dispose()
        {
            foreach (var folder in _folders)
                if (Directory.Exists(folder))
                    Directory.Delete(folder, recursive: true);
            GC.SuppressFinalize(this);
        }
    }
}
