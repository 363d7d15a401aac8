using System;
using System.Globalization;
using System.Linq;
using XTuner.Core;

namespace XTuner.Training.Engine
{
    /// <summary>
    /// Turns libtorch's out-of-memory failures (CUDA's caching allocator, the CPU allocator) into
    /// <see cref="ErrorIds.OutOfMemory"/>: where it happened (phase, step, sequence length), libtorch's own summary
    /// without its C++ backtrace, and what to change.
    /// </summary>
    internal static class OutOfMemoryReport
    {
        private static readonly string[] Markers =
        {
            "CUDA out of memory", "CUDA error: out of memory", "DefaultCPUAllocator: can't allocate memory", "DefaultCPUAllocator: not enough memory",
        };

        /// <summary>Whether <paramref name="e"/> (or an exception inside it) is an allocator's out-of-memory failure.</summary>
        public static bool Is(Exception e)
        {
            for (var x = e; x != null; x = x.InnerException)
                if (!(x is XTunerException) && Markers.Any(m => x.Message.Contains(m, StringComparison.Ordinal))) return true;
            return false;
        }

        /// <summary>The error for an out-of-memory failure <paramref name="e"/> met in <paramref name="phase"/>.</summary>
        /// <param name="e">libtorch's failure.</param>
        /// <param name="phase">What the rank was doing (setup, forward, backward, the optimizer step...).</param>
        /// <param name="step">The step being taken, from 1; null before the first.</param>
        /// <param name="length">The padded sequence length.</param>
        /// <param name="sequenceParallel">The SP size: each rank holds length / SP tokens.</param>
        /// <param name="cuda">The GPU ran out (else the host).</param>
        public static XTunerException Describe(Exception e, string phase, int? step, long length, int sequenceParallel, bool cuda)
        {
            string where = step is int s ? $"{phase} at step {s}" : phase;
            string tokens = sequenceParallel > 1
                ? string.Format(CultureInfo.InvariantCulture, "sequences of {0:N0} tokens, {1:N0} per rank at sequence_parallel_size {2}", length, length / sequenceParallel, sequenceParallel)
                : string.Format(CultureInfo.InvariantCulture, "sequences of {0:N0} tokens", length);
            string fixes = cuda
                ? "To fit: raise sequence_parallel_size (more GPUs), set activation_checkpointing: true, offload_activations: true, " +
                  "offload_optimizer: true or mlp_tiles, raise zero_stage, or lower max_length (xtuner benchmark --find-max-length finds the longest that fits)."
                : "To fit: free host memory, shrink the model, or lower max_length.";
            return new XTunerException(ErrorIds.OutOfMemory,
                $"The {(cuda ? "GPU" : "host")} ran out of memory in {where} ({tokens}): {Summary(e)}. {fixes}", e);
        }

        /// <summary>libtorch's message without its backtrace and enforce prefix, in one line.</summary>
        internal static string Summary(Exception e)
        {
            var x = e;
            while (x.InnerException != null && !Markers.Any(m => x.Message.Contains(m, StringComparison.Ordinal))) x = x.InnerException;
            string message = x.Message;
            foreach (var backtrace in new[] { "Exception raised from", "frame #0" })
            {
                int at = message.IndexOf(backtrace, StringComparison.Ordinal);
                if (at >= 0) message = message.Substring(0, at);
            }
            int marker = Markers.Select(m => message.IndexOf(m, StringComparison.Ordinal)).Where(i => i >= 0).DefaultIfEmpty(0).Min();
            message = message.Substring(marker);
            // CUDA's message goes on with allocator advice (PYTORCH_CUDA_ALLOC_CONF, the docs' address): its first sentences say what was asked.
            int advice = message.IndexOf(" If reserved but unallocated", StringComparison.Ordinal);
            if (advice >= 0) message = message.Substring(0, advice);
            return string.Join(" ", message.Split(new[] { '\r', '\n' }, StringSplitOptions.RemoveEmptyEntries).Select(l => l.Trim())).TrimEnd('.', ' ');
        }
    }
}
