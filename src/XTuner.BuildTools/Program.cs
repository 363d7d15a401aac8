using System;
using XTuner.Core.Native;

namespace XTuner.BuildTools
{
    /// <summary>
    /// Build steps, invoked from Directory.Build.targets:
    ///   glibcxx-compat [--always] FILE...   patch libLibTorchSharp.so copies in a build output
    ///   help ASSEMBLY XMLDOC OUTPUT         write the cmdlets' MAML help from their XML documentation
    /// </summary>
    public static class Program
    {
        public static int Main(string[] args)
        {
            try
            {
                if (args.Length >= 1 && args[0] == "glibcxx-compat")
                {
                    bool always = Array.IndexOf(args, "--always") >= 0;
                    foreach (var file in args)
                    {
                        if (file.StartsWith("-", StringComparison.Ordinal) || file == "glibcxx-compat") continue;
                        Console.WriteLine(LibTorchSharpCompat.Apply(file, always));
                    }
                    return 0;
                }
                if (args.Length == 4 && args[0] == "help")
                {
                    // One MSBuild error per missing piece of help, so that all of them are fixed in one go.
                    var problems = HelpWriter.Write(args[1], args[2], args[3]);
                    foreach (var problem in problems) Console.Error.WriteLine("error XTUNER002: " + problem);
                    return problems.Count == 0 ? 0 : 1;
                }
                Console.Error.WriteLine("usage: XTuner.BuildTools glibcxx-compat [--always] FILE... | help ASSEMBLY XMLDOC OUTPUT");
                return 2;
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("error XTUNER001: " + e.Message);
                return 1;
            }
        }
    }
}
