using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Core.Slurm;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner submit CONFIG</c>: writes WORK_DIR/submit.sbatch (one srun step running every rank with
    /// <c>xtuner train --launcher slurm</c>) and submits it with sbatch; inside an allocation, runs that step there.
    /// </summary>
    public sealed class SubmitCommand : CliCommand
    {
        public override string Name => "submit";

        public override string Summary => "Train a config as a SLURM job (sbatch; srun inside an allocation).";

        public override string Arguments => "CONFIG";

        public override string Description =>
            "Writes WORK_DIR/config.yaml and WORK_DIR/submit.sbatch for CONFIG (a YAML file or a built-in name) and submits\n" +
            "the script with sbatch: nodes x gpus_per_node ranks, one per GPU (--gres=gpu:N on CUDA), started by one srun step\n" +
            "running 'xtuner train WORK_DIR/config.yaml --launcher slurm'. The job is requeueable and gets SIGUSR1\n" +
            "slurm.signal_seconds before its time limit, on which the ranks checkpoint; a requeued job resumes from the latest\n" +
            "checkpoint in the work dir by itself. Prints the job id; follow it with xtuner job JOBID --wait.\n" +
            "Inside an allocation (salloc, or a batch script: SLURM_JOB_ID is set) the step runs there at once instead, and\n" +
            "submit returns when it ends. sbatch settings come from the config's slurm section (or --partition, --time, ...).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--work-dir", "Where logs, metrics, checkpoints and the model go (default work_dirs/NAME).", "DIR"),
            new CliOption("--nodes", "Machines (overrides nodes).", "N"),
            new CliOption("--nproc-per-node", "Ranks per machine: GPUs, or CPU processes (overrides gpus_per_node).", "N"),
            new CliOption("--device", "cpu or cuda (overrides device).", "DEVICE"),
            new CliOption("--max-steps", "Optimizer steps (overrides max_steps).", "N"),
            new CliOption("--partition", "sbatch --partition (overrides slurm.partition).", "NAME", shortName: "-p"),
            new CliOption("--account", "sbatch --account (overrides slurm.account).", "NAME"),
            new CliOption("--time", "sbatch --time, e.g. 1-00:00:00 (overrides slurm.time).", "TIME"),
            new CliOption("--resume", "Start from the latest checkpoint in the work dir, or from PATH.", "PATH", optionalValue: true),
            new CliOption("--cfg-options", "Override config keys: key=value (dotted for nested keys, e.g. slurm.gres=gpu:a100:8).", "KEY=VALUE", many: true),
            new CliOption("--dry-run", "Print the sbatch script and submit nothing."),
            new CliOption("--parsable", "Print only the job id."),
            new CliOption("--wait", "Follow the job until it ends; the exit code says how it ended (0 completed, 1 failed, 130 cancelled)."),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            var config = TrainCommand.LoadConfig(args.Single("CONFIG"));
            var overrides = new List<string>();
            void Override(string option, string key)
            {
                var value = args.Get(option);
                if (value != null) overrides.Add($"{key}={value}");
            }
            Override("--nodes", "nodes");
            Override("--device", "device");
            Override("--partition", "slurm.partition");
            Override("--account", "slurm.account");
            Override("--time", "slurm.time");
            var options = new LaunchOptions
            {
                WorkDir = args.Get("--work-dir"),
                GpusPerNode = args.GetInt("--nproc-per-node"),
                MaxSteps = args.GetInt("--max-steps"),
                ConfigOptions = overrides.Concat(args.GetAll("--cfg-options")).ToList(),
                Resume = args.Has("--resume") && args.Get("--resume") == null,
                ResumeFrom = args.Get("--resume"),
            };
            var plan = SlurmLauncher.Plan(config, options);
            // On stderr: stdout is the script with --dry-run and the job id alone with --parsable.
            foreach (var w in plan.Warnings) Console.Error.WriteLine("warning: " + w.Message);
            if (args.Has("--dry-run"))
            {
                output.Write(plan.Script);
                return 0;
            }
            var report = new JobReport(output);
            if (plan.InAllocation)
            {
                output.WriteLine($"Inside SLURM allocation {plan.AllocationJobId}: running {plan.Ranks} rank(s) with srun; logs in {new WorkDirLayout(plan.WorkDir).Logs}");
                using var cancel = new CancellationTokenSource();
                using (JobReport.OnCtrlC(cancel, "Stopping the step...", output))
                    return JobReport.Finish(SlurmLauncher.Submit(plan, report.Update, cancel.Token));
            }
            var job = SlurmLauncher.Submit(plan);
            if (args.Has("--parsable")) output.WriteLine(job.JobId);
            else output.WriteLine($"Submitted SLURM job {job.JobId}: {plan.Ranks} rank(s) on {plan.Nodes} node(s); script {plan.ScriptPath}; follow it with: xtuner job {job.JobId} --wait");
            if (!args.Has("--wait")) return 0;
            return JobCommand.Follow(job, report, output);
        }
    }
}
