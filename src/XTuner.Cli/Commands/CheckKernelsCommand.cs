using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using XTuner.Core;
using XTuner.Training.Kernels;
using XTuner.Training.Runtime;

namespace XTuner.Cli.Commands
{
    /// <summary>
    /// <c>xtuner check-kernels</c>: every fused CUDA kernel against its TorchSharp path (values, gradients, time), the
    /// GPU check of <c>fused_kernels</c>.
    /// </summary>
    public sealed class CheckKernelsCommand : CliCommand
    {
        /// <summary>Exit code when the kernels cannot run here (CPU, no CUDA, no NVRTC), apart from 1 for a failed check.</summary>
        public const int UnavailableExitCode = 3;

        public override string Name => "check-kernels";

        public override string Summary => "Check the fused CUDA kernels against the TorchSharp ops (values, gradients, time).";

        public override string Description =>
            "Runs each fused kernel (adamw, sum_of_squares, rms_norm, swiglu, rotary, cross_entropy) and the TorchSharp ops it\n" +
            "replaces on the same random CUDA tensors of realistic shapes, in float32 and bfloat16 where the model uses both, and\n" +
            "prints the largest absolute difference of every value and gradient, that over the reference's largest magnitude (pass:\n" +
            "at most 1e-5 in float32, 1e-2 in bfloat16), and the milliseconds per run of each path. Exit code 0 when all pass, 1\n" +
            "when any fails, 3 when the kernels cannot run here (device cpu, no CUDA, or no libnvrtc: the message says which).";

        public override IReadOnlyList<CliOption> Options { get; } = new[]
        {
            new CliOption("--device", "cuda (default); cpu only says that the kernels are CUDA kernels.", "DEVICE"),
            new CliOption("--iterations", "Timed runs of each path (default 50).", "N"),
            new CliOption("--json", "Also write the results there: a JSON array, one object per kernel and dtype.", "PATH"),
        };

        public override int Execute(CliArguments args, TextWriter output)
        {
            if (args.Positionals.Count > 0) throw new CliUsageException($"unexpected argument '{args.Positionals[0]}'");
            var device = (args.Get("--device") ?? "cuda").ToLowerInvariant();
            if (device != "cpu" && device != "cuda") throw new CliUsageException($"--device takes cuda or cpu, not '{device}'");
            int iterations = args.GetInt("--iterations") ?? 50;
            if (iterations < 1) throw new CliUsageException("--iterations must be 1 or more");
            var json = args.Get("--json");
            if (device == "cpu") return Unavailable("they are CUDA kernels; run with --device cuda on a GPU machine");
            try
            {
                LibTorchLocator.PrepareCuda();
                torch.InitializeDeviceType(DeviceType.CUDA);
            }
            catch (XTunerException e)
            {
                return Unavailable(e.Message.TrimEnd('.'));
            }
            catch (InvalidOperationException e)
            {
                return Unavailable($"libtorch's CUDA backend did not load ({e.Message.Split('\n')[0]})");
            }
            if (!torch.cuda.is_available()) return Unavailable("libtorch sees no CUDA device");
            if (!FusedKernels.CompilerAvailable(out var reason)) return Unavailable(reason);
            output.WriteLine($"NVRTC: {reason}");
            output.WriteLine("| kernel | dtype | shape | quantity | max abs | max rel | result |");
            output.WriteLine("| --- | --- | --- | --- | --- | --- | --- |");
            var checks = KernelChecks.Run(new torch.Device(DeviceType.CUDA, 0), iterations, check =>
            {
                foreach (var d in check.Differences)
                    output.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2} | {3} | {4:E2} | {5:E2} | {6} |",
                        check.Kernel, check.DType, check.Shape, d.Quantity, d.MaxAbs, d.MaxRel, d.Passed ? "pass" : "FAIL"));
                output.WriteLine(string.Format(CultureInfo.InvariantCulture, "| {0} | {1} | {2} | time (ms) fused / torch | {3:F3} | {4:F3} | {5:F2}x |",
                    check.Kernel, check.DType, check.Shape, check.FusedMilliseconds, check.TorchMilliseconds, check.Speedup));
            });
            if (json != null) File.WriteAllText(json, ToJson(checks));
            int failed = checks.Count(c => !c.Passed);
            output.WriteLine(failed == 0 ? $"all {checks.Count} kernel checks passed" : $"{failed} of {checks.Count} kernel checks FAILED");
            return failed == 0 ? 0 : 1;
        }

        /// <summary>The results as a JSON array, one object per kernel and dtype.</summary>
        internal static string ToJson(IEnumerable<KernelCheck> checks) =>
            JsonSerializer.Serialize(checks.Select(c => new Dictionary<string, object>
            {
                ["kernel"] = c.Kernel,
                ["dtype"] = c.DType,
                ["shape"] = c.Shape,
                ["passed"] = c.Passed,
                ["fused_ms"] = c.FusedMilliseconds,
                ["torch_ms"] = c.TorchMilliseconds,
                ["speedup"] = c.Speedup,
                ["differences"] = c.Differences.Select(d => new Dictionary<string, object>
                {
                    ["quantity"] = d.Quantity,
                    ["max_abs"] = d.MaxAbs,
                    ["max_rel"] = d.MaxRel,
                    ["passed"] = d.Passed,
                }).ToList(),
            }).ToList(), new JsonSerializerOptions { WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals });

        private static int Unavailable(string why)
        {
            Console.Error.WriteLine($"xtuner check-kernels: the fused kernels are unavailable here: {why}. [{ErrorIds.FusedKernelsUnavailable}]");
            return UnavailableExitCode;
        }
    }
}
