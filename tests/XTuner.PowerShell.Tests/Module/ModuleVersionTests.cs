using System.Diagnostics;
using System.IO;
using System.Reflection;
using System.Text.RegularExpressions;
using System.Xml.Linq;
using XTuner.PowerShell.Tests.Hosting;
using Xunit;

namespace XTuner.PowerShell.Tests.Module
{
    /// <summary>The version lives in Directory.Build.props; the build stamps it into XTuner.psd1 and the assembly.</summary>
    public sealed class ModuleVersionTests
    {
        private static string PropsVersion =>
            XDocument.Load(Path.Combine(Repository.Root, "Directory.Build.props")).Root!.Element("PropertyGroup")!.Element("Version")!.Value;

        [Fact]
        public void Manifest_assembly_and_props_agree()
        {
            using var session = PowerShellSession.Open();
            var moduleVersion = session.Run("(Get-Module XTuner).Version.ToString()").Output[0].ToString();
            var assembly = AssemblyName.GetAssemblyName(Repository.ModuleAssembly).Version!;
            Assert.Equal(Regex.Replace(PropsVersion, "-.*$", ""), moduleVersion);
            Assert.Equal($"{assembly.Major}.{assembly.Minor}.{assembly.Build}", moduleVersion);
        }

        [Fact]
        public void The_stamping_target_rewrites_only_ModuleVersion_and_only_when_it_differs()
        {
            var manifest = Path.Combine(Path.GetTempPath(), $"xtuner-stamp-{System.Guid.NewGuid():N}.psd1");
            File.Copy(Repository.Manifest, manifest);
            try
            {
                Stamp(manifest, "9.8.7-beta1");
                var stamped = File.ReadAllText(manifest);
                Assert.Equal(Regex.Replace(File.ReadAllText(Repository.Manifest), @"ModuleVersion(\s*)= '[^']*'", "ModuleVersion$1= '9.8.7'"), stamped);

                var written = File.GetLastWriteTimeUtc(manifest);
                File.SetLastWriteTimeUtc(manifest, written.AddMinutes(-5));
                Stamp(manifest, "9.8.7");
                Assert.Equal(written.AddMinutes(-5), File.GetLastWriteTimeUtc(manifest));
            }
            finally
            {
                File.Delete(manifest);
            }
        }

        private static void Stamp(string manifest, string version)
        {
            var project = Path.Combine(Repository.Root, "src", "XTuner.PowerShell", "XTuner.PowerShell.csproj");
            var start = new ProcessStartInfo("dotnet")
            {
                ArgumentList = { "msbuild", project, "-t:XTunerStampModuleVersion", "-nologo", "-nodeReuse:false", $"-p:Version={version}", $"-p:XTunerModuleManifest={manifest}" },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, output);
        }
    }
}
