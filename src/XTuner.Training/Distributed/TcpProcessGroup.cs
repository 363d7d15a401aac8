using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading.Tasks;
using TorchSharp;
using XTuner.Core;
using static TorchSharp.torch;

namespace XTuner.Training.Distributed
{
    /// <summary>
    /// The CPU backend: collectives over direct TCP connections (<see cref="PeerMesh"/>). All-reduce is a ring
    /// reduce-scatter followed by a ring all-gather, so each rank sends and receives 2(n-1)/n of the tensor whatever
    /// the group size; every step sends on a second thread while receiving on this one, so that two ranks sending
    /// each other more than the socket buffers hold never deadlock. Bytes travel as they lie in memory and
    /// reductions are torch ops on the received chunk, so every dtype works and results do not depend on endianness
    /// conversions or on a hand-written reduction per type.
    /// </summary>
    internal sealed class TcpProcessGroup : ProcessGroup
    {
        private readonly PeerMesh _mesh;
        private readonly TcpStore _store;
        private readonly BarrierSequence _barriers;

        public TcpProcessGroup(string name, IReadOnlyList<int> ranks, int rank, int groupId, PeerMesh mesh, TcpStore store)
            : base(name, ranks, rank)
        {
            _mesh = mesh;
            _store = store;
            _barriers = new BarrierSequence(store, "group" + groupId.ToString(CultureInfo.InvariantCulture) + "/", ranks);
        }

        protected override DeviceType DeviceType => DeviceType.CPU;

        // The connections belong to the runtime's mesh, which disposes them.
        public override void Dispose()
        {
        }

        protected override void AllReduceCore(Tensor tensor, ReduceOp op)
        {
            var work = tensor.is_contiguous() ? tensor : tensor.contiguous();
            var flat = work.view(-1);
            var chunks = Chunks.Spread(flat.numel(), Size);
            var operation = Operation("all_reduce");
            ReduceScatterRing(flat, chunks, op, operation);
            if (op == ReduceOp.Avg) DivideBySize(chunks.Of(flat, Rank));
            AllGatherRing(flat, chunks, operation);
            if (!ReferenceEquals(work, tensor)) tensor.copy_(work);
        }

        protected override void AllGatherCore(Tensor output, Tensor input)
        {
            var work = output.is_contiguous() ? output : torch.empty(output.shape, output.dtype);
            var flat = work.view(-1);
            var chunks = Chunks.Equal(input.numel());
            chunks.Of(flat, Rank).view(input.shape).copy_(input);
            AllGatherRing(flat, chunks, Operation("all_gather"));
            if (!ReferenceEquals(work, output)) output.copy_(work);
        }

        protected override void ReduceScatterCore(Tensor output, Tensor input, ReduceOp op)
        {
            // The ring accumulates in place, so it works on a copy: the caller's input stays as it was.
            var work = torch.empty(input.shape, input.dtype);
            work.copy_(input);
            var flat = work.view(-1);
            var chunks = Chunks.Equal(output.numel());
            ReduceScatterRing(flat, chunks, op, Operation("reduce_scatter"));
            var mine = chunks.Of(flat, Rank);
            if (op == ReduceOp.Avg) DivideBySize(mine);
            output.copy_(mine.view(output.shape));
        }

        protected override void AllToAllCore(Tensor output, Tensor input)
        {
            var source = (input.is_contiguous() ? input : input.contiguous()).view(-1);
            var work = output.is_contiguous() ? output : torch.empty(output.shape, output.dtype);
            var target = work.view(-1);
            var chunks = Chunks.Equal(input.numel() / Size);
            chunks.Of(target, Rank).copy_(chunks.Of(source, Rank));
            var operation = Operation("all_to_all");
            // Step s pairs every member with the one s ahead (to send) and the one s behind (to receive from).
            for (int step = 1; step < Size; step++)
            {
                int to = (Rank + step) % Size, from = (Rank - step + Size) % Size;
                Exchange(to, chunks.Of(source, to), from, chunks.Of(target, from), operation);
            }
            if (!ReferenceEquals(work, output)) output.copy_(work);
        }

        /// <summary>A binomial tree from the root: log2(n) rounds, each rank receiving once.</summary>
        protected override void BroadcastCore(Tensor tensor, int root)
        {
            var work = tensor.is_contiguous() ? tensor : tensor.contiguous();
            var operation = Operation("broadcast");
            int relative = (Rank - root + Size) % Size;
            int mask = 1;
            for (; mask < Size; mask <<= 1)
            {
                if ((relative & mask) == 0) continue;
                var from = _mesh.Get(Ranks[(relative - mask + root) % Size]);
                from.Receive(TensorMemory.Pointer(work), TensorMemory.Bytes(work), operation);
                break;
            }
            for (mask >>= 1; mask > 0; mask >>= 1)
            {
                if (relative + mask >= Size) continue;
                var to = _mesh.Get(Ranks[(relative + mask + root) % Size]);
                to.Send(TensorMemory.Pointer(work), TensorMemory.Bytes(work), operation);
            }
            if (!ReferenceEquals(work, tensor) && Rank != root) tensor.copy_(work);
        }

        protected override void BarrierCore() => _barriers.Pass(_store.Timeout);

        /// <summary>
        /// A lost peer may have stopped because of an earlier failure of its own, which it left in the store (see
        /// <see cref="OnFailure"/>): quoting it leads from any rank's error to the rank that failed first.
        /// </summary>
        protected override XTunerException Explain(XTunerException failure)
        {
            if (!(failure is PeerLostException lost)) return failure;
            string? reason = null;
            try
            {
                reason = _store.GetString(FailureKey(lost.PeerRank), TimeSpan.Zero);
            }
            catch (XTunerException)
            {
                // The peer left no reason (it crashed), or the store is gone with rank 0.
            }
            return new XTunerException(lost.ErrorId, lost.Message + (reason == null
                ? " It probably exited; its log says why."
                : $" It had stopped because: {reason}"), lost);
        }

        /// <summary>
        /// A failed collective leaves peers mid-message: record why in the store, then close every connection so that
        /// they fail now rather than at their timeout.
        /// </summary>
        protected override void OnFailure(XTunerException failure)
        {
            Publish(failure);
            _mesh.Dispose();
        }

        private void Publish(XTunerException failure)
        {
            try
            {
                // A reason for the others' messages, not a log: the store bounds its values.
                var reason = failure.Message;
                _store.Set(FailureKey(_store.Rank), reason.Length <= 4000 ? reason : reason.Substring(0, 4000) + " ...");
            }
            catch (XTunerException)
            {
                // The store went with rank 0; the peers will see the closed connections anyway.
            }
        }

        private static string FailureKey(int rank) => "failure/" + rank.ToString(CultureInfo.InvariantCulture);

        /// <summary>
        /// Ring reduce-scatter: after n-1 steps member i holds chunk i reduced over all members. At step s it sends
        /// chunk i-s-1 (its partial sum from the step before) to the next member and reduces chunk i-s-2 from the
        /// previous one into its own.
        /// </summary>
        private void ReduceScatterRing(Tensor flat, Chunks chunks, ReduceOp op, string operation)
        {
            if (Size == 1) return;
            int next = (Rank + 1) % Size, previous = (Rank - 1 + Size) % Size;
            var scratch = torch.empty(chunks.MaxLength, flat.dtype);
            for (int step = 0; step < Size - 1; step++)
            {
                int send = Mod(Rank - step - 1), receive = Mod(Rank - step - 2);
                var incoming = scratch.narrow(0, 0, chunks.Length(receive));
                Exchange(next, chunks.Of(flat, send), previous, incoming, operation);
                Combine(chunks.Of(flat, receive), incoming, op);
            }
        }

        /// <summary>Ring all-gather: member i starts with chunk i; at step s it passes on chunk i-s and receives chunk i-s-1.</summary>
        private void AllGatherRing(Tensor flat, Chunks chunks, string operation)
        {
            int next = (Rank + 1) % Size, previous = (Rank - 1 + Size) % Size;
            for (int step = 0; step < Size - 1; step++)
                Exchange(next, chunks.Of(flat, Mod(Rank - step)), previous, chunks.Of(flat, Mod(Rank - step - 1)), operation);
        }

        /// <summary>Sends <paramref name="send"/> to one member while receiving <paramref name="receive"/> from another.</summary>
        private void Exchange(int sendTo, Tensor send, int receiveFrom, Tensor receive, string operation)
        {
            var sendConnection = _mesh.Get(Ranks[sendTo]);
            var receiveConnection = _mesh.Get(Ranks[receiveFrom]);
            IntPtr sendData = TensorMemory.Pointer(send), receiveData = TensorMemory.Pointer(receive);
            long sendBytes = TensorMemory.Bytes(send), receiveBytes = TensorMemory.Bytes(receive);
            var sending = sendBytes == 0 ? Task.CompletedTask : Task.Run(() => sendConnection.Send(sendData, sendBytes, operation));
            try
            {
                if (receiveBytes > 0) receiveConnection.Receive(receiveData, receiveBytes, operation);
            }
            catch (Exception e)
            {
                // Say why before any connection closes: a peer that sees it close looks for the reason then.
                var failure = e is XTunerException known ? Explain(known) : null;
                if (failure != null) Publish(failure);
                // The send thread reads tensor memory: stop it and wait before the caller frees that memory.
                sendConnection.Dispose();
                try
                {
                    sending.Wait();
                }
                catch (AggregateException)
                {
                    // The receive failure is the one to report.
                }
                if (failure != null && !ReferenceEquals(failure, e)) throw failure;
                throw;
            }
            sending.GetAwaiter().GetResult();
            GC.KeepAlive(send);
            GC.KeepAlive(receive);
        }

        private static void Combine(Tensor into, Tensor incoming, ReduceOp op)
        {
            switch (op)
            {
                case ReduceOp.Sum:
                case ReduceOp.Avg:
                    into.add_(incoming);
                    break;
                case ReduceOp.Max:
                    into.copy_(into.maximum(incoming));
                    break;
                case ReduceOp.Min:
                    into.copy_(into.minimum(incoming));
                    break;
                default:
                    throw new ArgumentOutOfRangeException(nameof(op), op, null);
            }
        }

        // Integers divide with truncation, as NCCL's average does.
        private void DivideBySize(Tensor chunk)
        {
            if (chunk.is_floating_point()) chunk.div_(Size);
            else chunk.div_(Size, RoundingMode.trunc);
        }

        private int Mod(int member) => ((member % Size) + Size) % Size;

        /// <summary>How a flat tensor is cut into one chunk per member.</summary>
        private readonly struct Chunks
        {
            private readonly long _base;
            private readonly long _extra;

            private Chunks(long baseLength, long extra)
            {
                _base = baseLength;
                _extra = extra;
            }

            /// <summary>Chunks of <paramref name="length"/> elements each.</summary>
            public static Chunks Equal(long length) => new Chunks(length, 0);

            /// <summary><paramref name="total"/> elements in chunks that differ by at most one (the first ones longer).</summary>
            public static Chunks Spread(long total, int parts) => new Chunks(total / parts, total % parts);

            public long MaxLength => _base + (_extra > 0 ? 1 : 0);

            public long Start(int chunk) => chunk * _base + Math.Min(chunk, _extra);

            public long Length(int chunk) => _base + (chunk < _extra ? 1 : 0);

            public Tensor Of(Tensor flat, int chunk) => flat.narrow(0, Start(chunk), Length(chunk));
        }
    }
}
