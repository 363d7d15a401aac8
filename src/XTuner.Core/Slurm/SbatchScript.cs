using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;

namespace XTuner.Core.Slurm
{
    /// <summary>
    /// Writes the bash script that sbatch runs: #SBATCH directives, the ranks' environment, and one srun step that starts
    /// every rank (<c>xtuner train CONFIG --launcher slurm</c>). The same script run with bash inside an allocation
    /// starts the same step there.
    /// </summary>
    public static class SbatchScript
    {
        /// <summary>Where each rank's output goes; %t is srun's task number, which is the rank.</summary>
        public const string RankLogPattern = "logs/rank%t.log";

        /// <summary>The line the script writes to the job's error file at every start (a requeued job starts again).</summary>
        public const string StartMarker = "xtuner: job ";

        public static string Render(SlurmPlan plan)
        {
            var c = plan.Config;
            var sb = new StringBuilder();
            sb.Append("#!/bin/bash\n");
            sb.Append($"# {Comment(c.Name ?? plan.JobName)}: {plan.Ranks} rank(s) on {plan.Nodes} node(s) x {plan.RanksPerNode}, " +
                      $"{ConfigValues.FormatEnum(c.Device)}, sequence parallel {c.SequenceParallelSize} x data parallel {c.DataParallelSize}.\n");
            sb.Append("# Written by xtuner (xtuner submit, Start-XTunerTraining -Launcher Slurm); submit with: sbatch --parsable THIS_FILE\n");
            foreach (var d in plan.Directives)
                sb.Append("#SBATCH ").Append(d.Key).Append(d.Value == null ? "" : "=" + QuoteDirectiveValue(d.Value)).Append('\n');
            foreach (var line in plan.ExtraDirectives)
                sb.Append("#SBATCH ").Append(line).Append('\n');
            sb.Append('\n');

            foreach (var pair in plan.Environment.OrderBy(p => p.Key, StringComparer.Ordinal))
                sb.Append("export ").Append(pair.Key).Append('=').Append(WorkerCommand.Quote(pair.Value)).Append('\n');
            // The job's secret, made on its node at each start and passed to every task by srun (never written to a file).
            sb.Append(RunToken.BashExport).Append('\n');
            if (plan.SetsCpuThreads)
            {
                // libtorch uses every core in every process; ranks sharing a node share its CPUs instead.
                sb.Append($"threads=$(( ${{SLURM_CPUS_ON_NODE:-1}} / {plan.RanksPerNode} ))\n");
                sb.Append("export OMP_NUM_THREADS=${SLURM_CPUS_PER_TASK:-$(( threads > 0 ? threads : 1 ))}\n");
            }
            if (c.Device == DeviceKind.Cuda && !plan.Environment.ContainsKey(PythonTorch.LibTorchDirVariable))
            {
                // Asked here, on the job's node, not where it was submitted (a login node may have another or no PyTorch),
                // and once rather than by every rank. As PythonTorch asks it: python3's answer, if it names a CUDA libtorch.
                var v = PythonTorch.LibTorchDirVariable;
                sb.Append($"if [ -z \"${{{v}:-}}\" ]; then\n");
                sb.Append($"    libtorch=$(timeout {PythonTorch.DefaultTimeout.TotalSeconds:0} python3 -c {WorkerCommand.Quote(PythonTorch.Program)} 2>/dev/null | tail -n 1)\n");
                sb.Append($"    if [ -n \"$libtorch\" ] && [ -f \"$libtorch/{PythonTorch.CudaLibrary}\" ]; then export {v}=\"$libtorch\"; fi\n");
                sb.Append("fi\n");
            }
            sb.Append('\n');

            sb.Append("work_dir=").Append(WorkerCommand.Quote(plan.WorkDir)).Append('\n');
            sb.Append("# A requeued or pre-empted job goes on from its latest checkpoint by itself.\n");
            if (plan.Resume) sb.Append("resume=(--resume)\n");
            else
            {
                sb.Append(plan.ResumeFrom != null ? $"resume=(--resume {WorkerCommand.Quote(plan.ResumeFrom)})\n" : "resume=()\n");
                // WorkDirLayout.LatestCheckpoint's rule: a step-* folder holding trainer_state.json, not a save in progress.
                sb.Append($"for state in \"$work_dir\"/{WorkDirLayout.CheckpointFolderName}/{WorkDirLayout.CheckpointPrefix}*/{WorkDirLayout.TrainerStateFile}; do\n");
                sb.Append($"    case \"$state\" in *{WorkDirLayout.CheckpointTempSuffix}/{WorkDirLayout.TrainerStateFile}) continue ;; esac\n");
                sb.Append("    if [ -f \"$state\" ]; then resume=(--resume); break; fi\n");
                sb.Append("done\n");
            }
            sb.Append("mkdir -p \"$work_dir/logs\"\n");
            sb.Append($"echo \"{StartMarker}${{SLURM_JOB_ID}} on ${{SLURM_JOB_NODELIST}}, restart ${{SLURM_RESTART_COUNT:-0}}: xtuner train ${{resume[*]}}\" >&2\n");
            sb.Append('\n');

            var srun = new[]
            {
                "srun",
                $"--nodes={plan.Nodes}",
                $"--ntasks={plan.Ranks}",
                $"--ntasks-per-node={plan.RanksPerNode}",
                // One failed rank ends the step: the others would wait for it at the next collective.
                "--kill-on-bad-exit=1",
                "--open-mode=append",
                "--output=" + EscapeFilePattern(plan.WorkDir.TrimEnd('/') + "/") + RankLogPattern,
            };
            var train = new[] { plan.Worker.FileName }.Concat(plan.Worker.LeadingArguments)
                .Concat(new[] { "train", plan.ConfigPath, "--launcher", "slurm" });
            sb.Append("exec ").Append(string.Join(" ", srun.Select(WorkerCommand.Quote))).Append(" \\\n    ")
                .Append(string.Join(" ", train.Select(WorkerCommand.Quote))).Append(" \"${resume[@]}\"\n");
            return sb.ToString();
        }

        /// <summary>
        /// A value as sbatch reads it from an #SBATCH line: bare when plain, else in double quotes with \ and " escaped
        /// (sbatch takes an unquoted # as the start of a comment and a space as the end of the value).
        /// </summary>
        public static string QuoteDirectiveValue(string value)
        {
            if (value.Length > 0 && value.All(ch => char.IsLetterOrDigit(ch) || "/._-=:,+@%[]".IndexOf(ch) >= 0)) return value;
            return "\"" + value.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
        }

        /// <summary>A literal path in a SLURM file name pattern (--output): % starts a replacement, %% is one %.</summary>
        public static string EscapeFilePattern(string path) => path.Replace("%", "%%");

        private static string Comment(string text) => text.Replace('\n', ' ').Replace('\r', ' ');
    }
}
