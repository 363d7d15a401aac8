using System;
using System.ComponentModel;
using System.Diagnostics;
using System.IO;
using System.Linq;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// Asks <c>python3</c> where its PyTorch keeps libtorch, when that PyTorch is a CUDA build: ranks on CUDA load it when
    /// the worker carries no CUDA libtorch of its own. Importing torch takes seconds, so launchers ask once and hand the
    /// answer to every rank in <see cref="LibTorchDirVariable"/>.
    /// </summary>
    public static class PythonTorch
    {
        /// <summary>A CUDA PyTorch's <c>torch/lib</c> folder; when set, nobody asks python3.</summary>
        public const string LibTorchDirVariable = "XTUNER_LIBTORCH_DIR";

        public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(60);

        /// <summary>The library a CUDA libtorch folder holds (and a CPU one lacks).</summary>
        public const string CudaLibrary = "libtorch_cuda.so";

        /// <summary>
        /// The Python program asked (<c>python3 -c</c>): prints torch/lib for a CUDA build of torch, an empty line for a
        /// CPU build. The sbatch script asks the same on the job's first node.
        /// </summary>
        public const string Program =
            "import os, torch; print(os.path.join(os.path.dirname(torch.__file__), 'lib') if torch.version.cuda is not None or torch.cuda.is_available() else '')";

        /// <summary>
        /// python3's CUDA libtorch folder (one holding <see cref="CudaLibrary"/>); null when there is no python3, no torch,
        /// a CPU torch, an answer that is no such folder, a failure, or no answer within <paramref name="timeout"/>.
        /// </summary>
        /// <param name="searchPath">Folders to find python3 in (PATH syntax); default: this process's PATH.</param>
        /// <param name="timeout">How long python3 may take; it is killed after that. Default <see cref="DefaultTimeout"/>.</param>
        public static string? FindCudaLibTorch(string? searchPath = null, TimeSpan? timeout = null)
        {
            var python = (searchPath ?? Environment.GetEnvironmentVariable("PATH") ?? "")
                .Split(Path.PathSeparator)
                .Where(d => d.Length > 0)
                .Select(d => Path.Combine(d, "python3"))
                .FirstOrDefault(File.Exists);
            if (python == null) return null;
            var answer = Ask(python, timeout ?? DefaultTimeout)?
                .Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.Length > 0);
            return answer != null && Path.IsPathRooted(answer) && File.Exists(Path.Combine(answer, CudaLibrary)) ? answer : null;
        }

        /// <summary>python3's standard output, or null when it failed or ran past <paramref name="timeout"/>.</summary>
        private static string? Ask(string python, TimeSpan timeout)
        {
            var info = new ProcessStartInfo(python)
            {
                Arguments = ProcessArguments.Join(new[] { "-c", Program }),
                UseShellExecute = false,
                RedirectStandardOutput = true,
                // Read (and dropped) so that a chatty import cannot fill the pipe and block python3 before it answers.
                RedirectStandardError = true,
            };
            var watch = Stopwatch.StartNew();
            using var process = new Process { StartInfo = info };
            try
            {
                process.Start();
            }
            catch (Win32Exception)
            {
                return null;
            }
            var output = process.StandardOutput.ReadToEndAsync();
            _ = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(Milliseconds(timeout)))
            {
                Kill(process);
                return null;
            }
            // Exited; a child it left may still hold the pipe open, so the output gets the rest of the time, no more.
            if (!output.Wait(Milliseconds(timeout - watch.Elapsed))) return null;
            return process.ExitCode == 0 ? output.Result : null;
        }

        private static int Milliseconds(TimeSpan time) => (int)Math.Max(0, Math.Min(int.MaxValue, time.TotalMilliseconds));

        private static void Kill(Process process)
        {
            try
            {
                process.Kill();
            }
            catch (Exception e) when (e is InvalidOperationException || e is Win32Exception)
            {
                // exited meanwhile
            }
        }
    }
}
