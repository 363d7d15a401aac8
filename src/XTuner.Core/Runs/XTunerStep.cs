using System.Globalization;
using System.Text.Json.Serialization;

namespace XTuner.Core.Runs
{
    /// <summary>One optimizer step's metrics: a line of <c>work_dir/metrics.jsonl</c>, written by rank 0.</summary>
    public sealed class XTunerStep
    {
        [JsonPropertyName("step")]
        public int Step { get; set; }

        [JsonPropertyName("total_steps")]
        public int TotalSteps { get; set; }

        [JsonPropertyName("epoch")]
        public int Epoch { get; set; }

        /// <summary>Token-mean cross-entropy over the whole global batch (all ranks, all micro-batches).</summary>
        [JsonPropertyName("loss")]
        public double Loss { get; set; }

        [JsonPropertyName("lr")]
        public double Lr { get; set; }

        /// <summary>Global gradient norm before clipping.</summary>
        [JsonPropertyName("grad_norm")]
        public double GradNorm { get; set; }

        /// <summary>Input tokens processed by all ranks in the step (padding included).</summary>
        [JsonPropertyName("tokens")]
        public long Tokens { get; set; }

        /// <summary>Tokens that had a target (counted in the loss).</summary>
        [JsonPropertyName("target_tokens")]
        public long TargetTokens { get; set; }

        [JsonPropertyName("step_time_s")]
        public double StepTimeSeconds { get; set; }

        /// <summary>Of the step time, the optimizer step: gradient reduction, norm, AdamW and the parameters' refresh.</summary>
        [JsonPropertyName("optimizer_time_s")]
        public double OptimizerSeconds { get; set; }

        /// <summary>Tokens / step time / ranks: with sequence parallelism a rank processes S/sp tokens of each sequence.</summary>
        [JsonPropertyName("tokens_per_sec_per_gpu")]
        public double TokensPerSecondPerGpu { get; set; }

        /// <summary>Model FLOPs utilisation ((6N + 6 L h S) per token over the device's dense bf16 peak); null on CPU.</summary>
        [JsonPropertyName("mfu")]
        public double? Mfu { get; set; }

        /// <summary>Peak device memory of rank 0 so far (GPU: memory in use; CPU: resident set), GiB.</summary>
        [JsonPropertyName("max_memory_gib")]
        public double MaxMemoryGib { get; set; }

        /// <summary>
        /// Where the step's time went when it was timed by phase (<c>xtuner benchmark --phases</c>): seconds per phase path
        /// (<c>forward/attention</c>, <c>backward/recompute/matmul</c>, <c>optimizer</c>...), each exclusive of the phases
        /// nested in it; they sum to the step's time. Absent otherwise.
        /// </summary>
        [JsonPropertyName("phase_times_s")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public System.Collections.Generic.Dictionary<string, double>? PhaseSeconds { get; set; }

        [JsonPropertyName("elapsed_s")]
        public double ElapsedSeconds { get; set; }

        /// <summary>Estimated seconds to the last step.</summary>
        [JsonIgnore]
        public double EtaSeconds => TotalSteps > Step && Step > 0 ? ElapsedSeconds / Step * (TotalSteps - Step) : 0;

        /// <summary>
        /// The step in a progress bar's words, most important first and short enough for an 80-column bar beside the
        /// config's name: <c>step 3/10 loss 1.2345 5,120 tok/s/GPU ETA 0:12</c> (<c>step 3</c> while the total is unknown).
        /// </summary>
        public string Summary() =>
            string.Format(CultureInfo.InvariantCulture, "step {0}{1} loss {2:0.0000} {3:N0} tok/s/GPU ETA {4}",
                Step, TotalSteps > 0 ? "/" + TotalSteps.ToString(CultureInfo.InvariantCulture) : "", Loss, TokensPerSecondPerGpu,
                Durations.Format(EtaSeconds));

        /// <summary>
        /// The step as a rank's log line, every metric:
        /// <c>step 3/10  loss 1.2345  lr 1.00e-03  grad_norm 1.500  tokens/s/gpu 5,120  step 0.05 s  mem 0.25 GiB  eta 0:12</c>
        /// (<c>mfu</c> after the step time where known).
        /// </summary>
        public string LogLine()
        {
            var c = CultureInfo.InvariantCulture;
            return string.Format(c, "step {0}/{1}  loss {2:F4}  lr {3:0.00e+00}  grad_norm {4:F3}  tokens/s/gpu {5:N0}  step {6:F2} s{7}  mem {8:F2} GiB  eta {9}",
                Step, TotalSteps, Loss, Lr, GradNorm, TokensPerSecondPerGpu, StepTimeSeconds,
                Mfu is double m ? string.Format(c, "  mfu {0:P1}", m) : "", MaxMemoryGib, Durations.Format(EtaSeconds));
        }
    }
}
