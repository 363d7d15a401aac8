using System;
using TorchSharp;
using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>
    /// Raw access to a contiguous CPU tensor's bytes in spans of at most 1 GiB (a span is int-sized; embeddings of
    /// large vocabularies exceed 2 GB).
    /// </summary>
    internal static class TensorBytes
    {
        private const long MaxSpanBytes = 1L << 30;

        /// <summary>Calls <paramref name="visit"/> with each piece of <paramref name="tensor"/>'s data and the offset of that piece.</summary>
        public static void ForEachSpan(Tensor tensor, SpanVisitor visit)
        {
            if (tensor.device_type != DeviceType.CPU || !tensor.is_contiguous())
                throw new ArgumentException("Raw bytes need a contiguous CPU tensor.", nameof(tensor));
            using var flat = tensor.reshape(-1);
            var elementSize = flat.element_size();
            var perSpan = Math.Max(1, MaxSpanBytes / elementSize);
            long total = flat.shape[0];
            for (long start = 0; start < total; start += perSpan)
            {
                using var piece = flat.narrow(0, start, Math.Min(perSpan, total - start));
                visit(piece.bytes, start * elementSize);
            }
        }

        public delegate void SpanVisitor(Span<byte> bytes, long offset);
    }
}
