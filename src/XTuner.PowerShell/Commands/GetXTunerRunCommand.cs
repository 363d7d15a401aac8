using System.Collections.Generic;
using System.IO;
using System.Management.Automation;
using XTuner.Core.Runs;

namespace XTuner.PowerShell.Commands
{
    /// <summary>Reads training runs from their work dirs: state, ranks and the latest metrics, or every step's metrics.</summary>
    /// <remarks>
    /// <para>Get-XTunerRun reads WORKDIR/run.json, which the launcher keeps current, and the last line of WORKDIR/metrics.jsonl, which rank 0 appends after every optimizer step. It works for runs started in this session, in another shell, or as a job, while they run and after they end: the State is Starting, Running, Completed, Failed or Stopped; Error holds a failed run's message.</para>
    /// <para>-WorkDir takes folders, wildcard patterns (work_dirs/*: folders without a run are skipped), or objects with a WorkDir or FullName property from the pipeline (an XTunerRun, the job from Start-XTunerTraining -AsJob, Get-ChildItem output). A folder that holds no run is a non-terminating error, XTunerRunNotFound.</para>
    /// <para>-Metrics returns one XTunerStep per optimizer step instead: Step, Loss, Lr, GradNorm, Tokens, TokensPerSecondPerGpu, Mfu, MaxMemoryGib and the rest of the line.</para>
    /// </remarks>
    /// <example>
    /// <code>Get-XTunerRun ./work_dirs/tiny-llama-sp2</code>
    /// <para>Shows the run's state, step, loss and tokens per second per GPU.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerRun ./work_dirs/*</code>
    /// <para>Lists every run under work_dirs.</para>
    /// </example>
    /// <example>
    /// <code>Get-XTunerRun ./work_dirs/tiny-llama-sp2 -Metrics | ForEach-Object { '{0,4} {1:0.000}' -f $_.Step, $_.Loss }</code>
    /// <para>Prints the loss curve.</para>
    /// </example>
    [Cmdlet(VerbsCommon.Get, "XTunerRun")]
    [OutputType(typeof(XTunerRun), typeof(XTunerStep))]
    public sealed class GetXTunerRunCommand : XTunerCmdlet
    {
        /// <summary>Work dirs of runs (wildcards allowed).</summary>
        [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
        [Alias("FullName", "PSPath")]
        [SupportsWildcards]
        [ValidateNotNullOrEmpty]
        public string[]? WorkDir { get; set; }

        /// <summary>Return every step's metrics (XTunerStep objects) instead of the run.</summary>
        [Parameter]
        public SwitchParameter Metrics { get; set; }

        protected override void ProcessInput()
        {
            foreach (var path in WorkDir!)
            {
                if (WildcardPattern.ContainsWildcardCharacters(path))
                {
                    foreach (var folder in ResolveWildcard(path))
                        if (File.Exists(new WorkDirLayout(folder).RunRecord)) Attempt(folder, () => Emit(folder));
                    continue;
                }
                var full = ResolvePath(path);
                Attempt(full, () => Emit(full));
            }
        }

        private IEnumerable<string> ResolveWildcard(string pattern)
        {
            try
            {
                return GetResolvedProviderPathFromPSPath(pattern, out _);
            }
            catch (ItemNotFoundException)
            {
                return new string[0];
            }
        }

        private void Emit(string folder)
        {
            var run = XTunerRun.Open(folder);
            if (Metrics.IsPresent) WriteObject(MetricsFile.Read(folder), enumerateCollection: true);
            else WriteObject(run);
        }
    }
}
