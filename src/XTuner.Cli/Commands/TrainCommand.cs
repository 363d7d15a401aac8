using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Engine;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner train [CONFIG]</c>: as a launcher (one process per rank on this machine) or as one rank
    /// (<c>--launcher pytorch</c> with torchrun variables, <c>--launcher slurm</c> inside srun).
    /// </summary>
    public sealed class TrainCommand : CliCommand
    {
        public const string DefaultConfig = "tiny-llama-sp2";

        public override string Name => "train";

        public override string Summary => "Train a config (a YAML file or a built-in name).";

        public override string Arguments => "[CONFIG]";

        public override string Description =>
            $"Trains CONFIG, a YAML file or a built-in config (xtuner list-cfg); without one, the built-in {DefaultConfig}\n" +
            "(the tiny Llama with sequence parallelism across 2 CPU processes). When the config asks for several ranks on\n" +
            "this machine (gpus_per_node, or --nproc-per-node), xtuner starts one process per rank and shows rank 0's\n" +
            "output; each rank's log is in WORK_DIR/logs. Ranks themselves run with --launcher pytorch (RANK, WORLD_SIZE,\n" +
            "LOCAL_RANK, MASTER_ADDR, MASTER_PORT) or --launcher slurm (inside srun).\n\n" +
            "XTuner's launcher variables work as in XTuner: NPROC_PER_NODE=8 xtuner train CONFIG starts 8 ranks here; for\n" +
            "several machines without SLURM, run xtuner train on each with NNODES, NODE_RANK, ADDR (node 0's address),\n" +
            "PORT and XTUNER_RUN_TOKEN (one secret, the same on every node) set. --deepspeed takes XTuner's names: deepspeed_zero1, deepspeed_zero2, deepspeed_zero3 set zero_stage;\n" +
            "deepspeed_zero2_offload and deepspeed_zero3_offload also keep the optimizer shard in host memory.\n\n" +
            "Ctrl+C: every rank finishes its step, saves a checkpoint and ends (continue with --resume); a second\n" +
            "Ctrl+C, or SIGTERM, stops them at once. SIGUSR2 to every rank does what the first Ctrl+C does.";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--work-dir", "Where logs, metrics, checkpoints and the model go (default work_dirs/NAME).", "DIR"),
            new CliOption("--device", "cpu or cuda (overrides the config).", "DEVICE"),
            new CliOption("--nproc-per-node", "Ranks on this machine: GPUs, or CPU processes (overrides gpus_per_node).", "N"),
            new CliOption("--max-steps", "Optimizer steps (overrides max_steps).", "N"),
            new CliOption("--resume", "Continue from the latest checkpoint in the work dir, or from PATH.", "PATH", optionalValue: true),
            new CliOption("--cfg-options", "Override config keys: key=value (dotted for nested keys).", "KEY=VALUE", many: true),
            new CliOption("--deepspeed", "XTuner's ZeRO presets: deepspeed_zero1|zero2|zero3|zero2_offload|zero3_offload (sets zero_stage).", "PRESET"),
            new CliOption("--launcher", "none (default: start the ranks here), pytorch or slurm (run as one rank).", "LAUNCHER"),
            new CliOption("--timeout", "Seconds a rank waits for the others (rendezvous, collectives) before giving up (default 1800).", "SECONDS"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 1) throw new CliUsageException($"unexpected arguments: {string.Join(" ", args.Positionals.Skip(1))}");
            var source = args.Positionals.Count == 1 ? args.Positionals[0] : null;
            if (source == null) output.WriteLine($"No config given: training the built-in {DefaultConfig} (tiny Llama, sequence parallel across 2 CPU processes).");
            var config = LoadConfig(source ?? DefaultConfig);
            var options = new LaunchOptions
            {
                WorkDir = args.Get("--work-dir"),
                Device = ParseDevice(args.Get("--device")),
                GpusPerNode = args.GetInt("--nproc-per-node"),
                MaxSteps = args.GetInt("--max-steps"),
                // The preset first, so that --cfg-options zero_stage=... still has the last word.
                ConfigOptions = (args.Get("--deepspeed") is string preset ? DeepSpeedPreset.Assignments(preset) : Array.Empty<string>())
                    .Concat(args.GetAll("--cfg-options")).ToList(),
                Resume = args.Has("--resume"),
                ResumeFrom = args.Get("--resume"),
            };
            var launcher = args.Get("--launcher") ?? (Environment.GetEnvironmentVariable("RANK") != null ? "pytorch" : "none");
            switch (launcher)
            {
                case "pytorch":
                case "slurm":
                    return RunRank(config, options, launcher == "slurm", Timeout(args), output);
                case "none":
                    NodeVariables.FromProcess().ApplyTo(options);
                    return Launch(config, options, args.Get("--timeout"), output);
                default:
                    throw new CliUsageException($"--launcher takes none, pytorch or slurm, not '{launcher}'");
            }
        }

        internal static XTunerConfig LoadConfig(string source)
        {
            if (File.Exists(source) || source.EndsWith(".yaml", StringComparison.OrdinalIgnoreCase) || source.EndsWith(".yml", StringComparison.OrdinalIgnoreCase))
                return ConfigYaml.Load(source);
            return ConfigCatalogue.Get(source);
        }

        private static DeviceKind? ParseDevice(string? text)
        {
            if (text == null) return null;
            if (ConfigValues.TryParseEnum(typeof(DeviceKind), text, out var value)) return (DeviceKind)value!;
            throw new CliUsageException($"--device takes cpu or cuda, not '{text}'");
        }

        private static TimeSpan Timeout(CliArguments args) =>
            args.GetInt("--timeout") is int seconds
                ? (seconds > 0 ? TimeSpan.FromSeconds(seconds) : throw new CliUsageException("--timeout must be 1 or more seconds"))
                : TrainOptions.DefaultTimeout;

        private static int RunRank(XTunerConfig config, LaunchOptions options, bool slurm, TimeSpan timeout, TextWriter output)
        {
            var env = RankEnvironment.FromProcess(slurm);
            options.GpusPerNode ??= env.LocalWorldSize;
            var prepared = LaunchPlanner.Prepare(config, options, out var warnings);
            // The world comes from the launcher; the config's node count only sized it.
            prepared.Nodes = env.WorldSize / Math.Max(1, env.LocalWorldSize);
            prepared.GpusPerNode = env.LocalWorldSize;
            if (env.Rank == 0)
                foreach (var w in warnings) output.WriteLine("warning: " + w.Message);
            Trainer.Run(prepared, env, new TrainOptions
            {
                Resume = options.Resume,
                ResumeFrom = options.ResumeFrom,
                Events = Environment.GetEnvironmentVariable(RunEvent.EnvironmentVariable) == "1",
                Timeout = timeout,
                Console = output,
            });
            return 0;
        }

        /// <summary>
        /// Starts every rank of this machine as its own process (one, too: the work dir then holds the same config.yaml,
        /// logs and run.json as any run, and Get-XTunerRun sees it), shows rank 0's output, and stops them on Ctrl+C: after a checkpoint at the first, at once at the second.
        /// </summary>
        private static int Launch(XTunerConfig config, LaunchOptions options, string? timeout, TextWriter output)
        {
            // Rank 0's events tell the launcher when the first step begins (from then on, Ctrl+C can ask for a checkpoint).
            options.Events = true;
            var plan = LaunchPlanner.PlanLocal(config, options, out var warnings);
            if (timeout != null) plan.Arguments.AddRange(new[] { "--timeout", timeout });
            foreach (var w in warnings) output.WriteLine("warning: " + w.Message);
            CudaDevices.RequireFor(plan, CudaDevices.Visible());
            LaunchPlanner.PrepareWorkDir(plan, options.Resume || options.ResumeFrom != null);
            var node = plan.Config.Nodes > 1 ? $" on node {plan.Ranks[0].Node} of {plan.Config.Nodes} (ranks {plan.Ranks[0].Rank}-{plan.Ranks[plan.Ranks.Count - 1].Rank} of {plan.Config.WorldSize})" : "";
            if (plan.Ranks.Count > 1 || node.Length > 0)
                output.WriteLine($"Starting {plan.Ranks.Count} ranks{node} ({plan.Config.SequenceParallelSize}-way sequence parallel x {plan.Config.DataParallelSize}-way data parallel); logs in {new WorkDirLayout(plan.WorkDir).Logs}");
            using var launcher = new LocalLauncher(plan, echoRankZero: true);
            using var cancel = new CancellationTokenSource();
            using var signals = StopSignals.Cancel(cancel, output, launcher.RequestCheckpointAndStop);
            launcher.Start();
            var pump = new Thread(() =>
            {
                foreach (var m in launcher.Messages.GetConsumingEnumerable())
                    if (m.Line != null) output.WriteLine(m.Line);
            }) { IsBackground = true };
            pump.Start();
            var run = launcher.WaitForExit(cancel.Token);
            pump.Join(TimeSpan.FromSeconds(5));
            return run.State == RunState.Completed ? 0 : signals.ExitCode;
        }
    }
}
