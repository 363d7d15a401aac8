using System;
using System.Runtime.InteropServices;
using XTuner.Core;

namespace XTuner.Training.Distributed
{
    /// <summary>ncclUniqueId: 128 opaque bytes that rank 0 of a group makes and every member passes to ncclCommInitRank.</summary>
    [StructLayout(LayoutKind.Sequential, Size = Bytes)]
    internal unsafe struct NcclUniqueId
    {
        public const int Bytes = 128;

        private fixed byte _internal[Bytes];

        public byte[] ToArray()
        {
            var bytes = new byte[Bytes];
            fixed (byte* source = _internal) new ReadOnlySpan<byte>(source, Bytes).CopyTo(bytes);
            return bytes;
        }

        public static NcclUniqueId FromArray(byte[] bytes)
        {
            if (bytes.Length != Bytes) throw new ArgumentException($"an NCCL unique id has {Bytes} bytes, not {bytes.Length}", nameof(bytes));
            var id = new NcclUniqueId();
            bytes.CopyTo(new Span<byte>(id._internal, Bytes));
            return id;
        }
    }

    /// <summary>
    /// NCCL's C API (nccl.h of NCCL 2.x), bound by function pointer from libnccl.so.2 when first needed, so that
    /// CPU-only machines never look for it and a missing library is one clear error. The enums are C ints:
    /// ncclResult_t (0 = success), ncclDataType_t and ncclRedOp_t with the values nccl.h gives them.
    /// </summary>
    internal sealed unsafe class NcclLibrary
    {
        /// <summary>Overrides where libnccl.so.2 is loaded from (default: the dynamic loader's search, which also finds
        /// the copy a CUDA PyTorch already loaded into the process).</summary>
        public const string PathVariable = "XTUNER_NCCL_LIBRARY";

        public const int Success = 0;
        public const int RemoteError = 6;

        private static readonly Lazy<NcclLibrary> Shared = new Lazy<NcclLibrary>(() => new NcclLibrary());

        public readonly delegate* unmanaged<NcclUniqueId*, int> GetUniqueId;
        public readonly delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int> CommInitRank;
        public readonly delegate* unmanaged<IntPtr, int> CommDestroy;
        public readonly delegate* unmanaged<IntPtr, int> CommAbort;
        public readonly delegate* unmanaged<IntPtr, int*, int> CommGetAsyncError;

        // (sendbuff, recvbuff, count, datatype, op, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> AllReduce;

        // (sendbuff, recvbuff, recvcount, datatype, op, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> ReduceScatter;

        // (sendbuff, recvbuff, sendcount, datatype, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int> AllGather;

        // (sendbuff, recvbuff, count, datatype, root, comm, stream)
        public readonly delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int> Broadcast;

        // (buff, count, datatype, peer, comm, stream)
        public readonly delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int> Send;
        public readonly delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int> Recv;

        public readonly delegate* unmanaged<int> GroupStart;
        public readonly delegate* unmanaged<int> GroupEnd;

        private readonly delegate* unmanaged<int, byte*> _getErrorString;
        private readonly delegate* unmanaged<IntPtr, byte*> _getLastError;

        private NcclLibrary()
        {
            var path = Environment.GetEnvironmentVariable(PathVariable);
            var name = string.IsNullOrEmpty(path) ? "libnccl.so.2" : path!;
            if (!NativeLibrary.TryLoad(name, out var handle))
                throw new XTunerException(ErrorIds.CollectiveFailed,
                    $"NCCL ({name}) could not be loaded: CUDA training needs NCCL 2.x. Install it, or set {PathVariable} to its libnccl.so.2.");
            MulticastGuard.KeepNvlsOff();
            GetUniqueId = (delegate* unmanaged<NcclUniqueId*, int>)Export(handle, "ncclGetUniqueId");
            CommInitRank = (delegate* unmanaged<IntPtr*, int, NcclUniqueId, int, int>)Export(handle, "ncclCommInitRank");
            CommDestroy = (delegate* unmanaged<IntPtr, int>)Export(handle, "ncclCommDestroy");
            CommAbort = (delegate* unmanaged<IntPtr, int>)Export(handle, "ncclCommAbort");
            CommGetAsyncError = (delegate* unmanaged<IntPtr, int*, int>)Export(handle, "ncclCommGetAsyncError");
            AllReduce = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export(handle, "ncclAllReduce");
            ReduceScatter = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export(handle, "ncclReduceScatter");
            AllGather = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, IntPtr, IntPtr, int>)Export(handle, "ncclAllGather");
            Broadcast = (delegate* unmanaged<IntPtr, IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export(handle, "ncclBroadcast");
            Send = (delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export(handle, "ncclSend");
            Recv = (delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int>)Export(handle, "ncclRecv");
            GroupStart = (delegate* unmanaged<int>)Export(handle, "ncclGroupStart");
            GroupEnd = (delegate* unmanaged<int>)Export(handle, "ncclGroupEnd");
            _getErrorString = (delegate* unmanaged<int, byte*>)Export(handle, "ncclGetErrorString");
            // ncclGetLastError arrived in NCCL 2.13; older libraries just give less detail.
            _getLastError = NativeLibrary.TryGetExport(handle, "ncclGetLastError", out var lastError) ? (delegate* unmanaged<IntPtr, byte*>)lastError : null;
            var getVersion = (delegate* unmanaged<int*, int>)Export(handle, "ncclGetVersion");
            int code;
            Check(getVersion(&code), "ncclGetVersion", IntPtr.Zero);
            // NCCL_VERSION_CODE is major*10000 + minor*100 + patch since 2.9 (major*1000 + minor*100 + patch before).
            Version = code >= 10000 ? $"{code / 10000}.{code / 100 % 100}.{code % 100}" : $"{code / 1000}.{code / 100 % 10}.{code % 100}";
        }

        /// <summary>The process's NCCL, loaded on first use.</summary>
        /// <exception cref="XTunerException">NCCL is not installed (<see cref="ErrorIds.CollectiveFailed"/>).</exception>
        public static NcclLibrary Instance => Shared.Value;

        /// <summary>"2.28.3".</summary>
        public string Version { get; }

        /// <summary>Turns a failed ncclResult_t into an exception with NCCL's own words.</summary>
        /// <exception cref="XTunerException"><paramref name="result"/> is not success (<see cref="ErrorIds.CollectiveFailed"/>).</exception>
        public void Check(int result, string call, IntPtr comm)
        {
            if (result == Success) return;
            var message = Marshal.PtrToStringUTF8((IntPtr)_getErrorString(result)) ?? "unknown error";
            var detail = _getLastError != null ? Marshal.PtrToStringUTF8((IntPtr)_getLastError(comm)) : null;
            var hint = result == RemoteError ? " Another rank failed; its log says why." : "";
            throw new XTunerException(ErrorIds.CollectiveFailed,
                $"{call} failed: NCCL error {result}, {message}{(string.IsNullOrWhiteSpace(detail) ? "" : " (" + detail!.Trim() + ")")}.{hint}");
        }

        private static IntPtr Export(IntPtr handle, string name)
        {
            if (NativeLibrary.TryGetExport(handle, name, out var address)) return address;
            throw new XTunerException(ErrorIds.CollectiveFailed, $"The NCCL library lacks {name}: xtuner needs NCCL 2.10 or newer.");
        }
    }
}
