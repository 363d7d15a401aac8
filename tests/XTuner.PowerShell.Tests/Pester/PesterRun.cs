using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Text;

namespace XTuner.PowerShell.Tests.Pester
{
    /// <summary>
    /// One run of real Pester in real pwsh: <c>dotnet tool restore</c> (the repository's manifest holds PowerShell),
    /// then <c>dotnet tool run pwsh</c> with the Pester module this project downloaded, <c>Invoke-Pester -CI</c>.
    /// </summary>
    public sealed class PesterRun
    {
        /// <summary>The suite takes about two minutes on two cores; past this it is hung, not slow.</summary>
        private static readonly TimeSpan Limit = TimeSpan.FromMinutes(20);

        private PesterRun(int exitCode, string output, PesterResults results)
        {
            ExitCode = exitCode;
            Output = output;
            Results = results;
        }

        /// <summary>pwsh's exit code: under -CI, the number of failed tests (0 when all passed).</summary>
        public int ExitCode { get; }

        /// <summary>What pwsh printed (Pester's report).</summary>
        public string Output { get; }

        public PesterResults Results { get; }

        /// <summary>Where the build found Pester (this project's PackageDownload), from the assembly's metadata.</summary>
        public static string PesterManifest { get; } = typeof(PesterRun).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Single(a => a.Key == "PesterManifest").Value!;

        /// <summary>Runs <c>Invoke-Pester -Path <paramref name="path"/> -CI</c>; testResults.xml goes to <paramref name="resultsFolder"/>.</summary>
        public static PesterRun Invoke(string path, string resultsFolder)
        {
            if (!File.Exists(PesterManifest))
                throw new InvalidOperationException($"Pester is not where restore put it ({PesterManifest}): run dotnet restore.");
            Directory.CreateDirectory(resultsFolder);
            var results = Path.Combine(resultsFolder, "testResults.xml");
            File.Delete(results);
            var root = Hosting.Repository.Root;
            // The tool manifest is found from the working directory: both commands run in the repository.
            Dotnet(root, "tool", "restore");
            // -CI writes testResults.xml to the current location and exits with the number of failures.
            var script = $"$ErrorActionPreference = 'Stop'; Import-Module '{Quote(PesterManifest)}' -RequiredVersion {PesterVersion}; " +
                         $"Set-Location -LiteralPath '{Quote(resultsFolder)}'; Invoke-Pester -Path '{Quote(path)}' -CI";
            var (exitCode, output) = Dotnet(root, "tool", "run", "pwsh", "-NoProfile", "-NonInteractive", "-Command", script);
            if (!File.Exists(results))
                throw new InvalidOperationException($"pwsh exited with {exitCode} and Pester wrote no {results}:\n{output}");
            return new PesterRun(exitCode, output, PesterResults.Read(results));
        }

        private static string PesterVersion => Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(PesterManifest)))!;

        private static string Quote(string text) => text.Replace("'", "''");

        private static (int ExitCode, string Output) Dotnet(string workingDirectory, params string[] arguments)
        {
            var info = new ProcessStartInfo(DotnetHost())
            {
                WorkingDirectory = workingDirectory,
                UseShellExecute = false,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var a in arguments) info.ArgumentList.Add(a);
            info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            info.Environment["DOTNET_NOLOGO"] = "1";
            info.Environment["POWERSHELL_TELEMETRY_OPTOUT"] = "1";
            info.Environment["POWERSHELL_UPDATECHECK"] = "Off";
            // Plain text: the report goes into a test message, not a terminal.
            info.Environment["NO_COLOR"] = "1";
            // Tests that build (build.ps1 -Publish) use the configuration this suite was built in, which is then current.
            info.Environment["XTUNER_TEST_CONFIGURATION"] = typeof(PesterRun).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            var output = new StringBuilder();
            using var process = new Process { StartInfo = info };
            process.OutputDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.ErrorDataReceived += (_, e) => { if (e.Data != null) lock (output) output.AppendLine(e.Data); };
            process.Start();
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            if (!process.WaitForExit((int)Limit.TotalMilliseconds))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet {string.Join(" ", arguments.Take(3))} ran past {Limit.TotalMinutes} minutes:\n{output}");
            }
            process.WaitForExit();
            if (arguments[0] == "tool" && arguments[1] == "restore" && process.ExitCode != 0)
                throw new InvalidOperationException($"dotnet tool restore failed ({process.ExitCode}):\n{output}");
            return (process.ExitCode, output.ToString());
        }

        /// <summary>The dotnet that runs this test host (so the same SDK restores and runs the tool), else dotnet on PATH.</summary>
        private static string DotnetHost()
        {
            var self = Environment.ProcessPath;
            return self != null && Path.GetFileNameWithoutExtension(self) == "dotnet" ? self : "dotnet";
        }
    }
}
