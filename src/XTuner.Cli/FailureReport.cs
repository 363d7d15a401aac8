using System;
using System.Threading;
using XTuner.Core;

namespace XTuner.Cli
{
    /// <summary>
    /// How xtuner reports a failure: one line on stderr with the ErrorId and the message that says what to change; the
    /// stack trace only with <c>XTUNER_DEBUG=1</c>.
    /// </summary>
    internal static class FailureReport
    {
        public const string DebugVariable = "XTUNER_DEBUG";

        public static bool Debug => Environment.GetEnvironmentVariable(DebugVariable) == "1";

        /// <summary><c>xtuner train: error [XTunerRankFailed]: ...</c>; an exception of no ErrorId gives its type and first line.</summary>
        public static string Line(string who, Exception e) => e is XTunerException known
            ? $"{who}: error [{known.ErrorId}]: {known.Message}"
            : $"{who}: error: {e.GetType().Name}: {e.Message.Split('\n')[0].TrimEnd('\r')}";

        /// <summary>
        /// The last resort for an exception that escaped a thread of this process (each thread is meant to catch what it
        /// can meet): the runtime would abort with a stack trace (signal 6); this prints one line and exits with 1, so
        /// that the launcher reports the rank like any other failure.
        /// </summary>
        public static void ExitOnUnhandledExceptions(string who)
        {
            AppDomain.CurrentDomain.UnhandledException += (_, args) =>
            {
                var e = args.ExceptionObject as Exception ?? new Exception(args.ExceptionObject?.ToString());
                var thread = Thread.CurrentThread.Name is string name ? $" (thread {name})" : "";
                Console.Error.WriteLine(Line(who, e) + thread);
                if (Debug) Console.Error.WriteLine(e);
                Console.Error.Flush();
                Console.Out.Flush();
                Environment.Exit(1);
            };
        }
    }
}
