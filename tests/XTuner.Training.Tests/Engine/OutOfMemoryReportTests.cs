using System;
using System.Runtime.InteropServices;
using XTuner.Core;
using XTuner.Training.Engine;
using Xunit;

namespace XTuner.Training.Tests.Engine
{
    public class OutOfMemoryReportTests
    {
        // The shape of libtorch's CUDA caching allocator failure as TorchSharp raises it: the summary, the allocator's
        // advice, then the C++ backtrace.
        private const string Cuda =
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 1.06 GiB is free. " +
            "Including non-PyTorch memory, this process has 138.74 GiB memory in use. Of the allocated memory 130.20 GiB is allocated by PyTorch, " +
            "and 7.91 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting " +
            "PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.\nException raised from malloc at " +
            "/pytorch/c10/cuda/CUDACachingAllocator.cpp:1385 (most recent call first):\nframe #0: c10::Error::Error(...) + 0x98";

        private const string Cpu =
            "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 1024000000000 bytes. " +
            "Error code 12 (Cannot allocate memory)\nframe #0: c10::ThrowEnforceNotMet(char const*, int) + 0x68";

        [Fact]
        public void OnlyAllocatorFailuresAreOutOfMemory()
        {
            Assert.True(OutOfMemoryReport.Is(new ExternalException(Cuda)));
            Assert.True(OutOfMemoryReport.Is(new InvalidOperationException("wrapped", new ExternalException(Cpu))));
            Assert.False(OutOfMemoryReport.Is(new ExternalException("Expected all tensors to be on the same device")));
            Assert.False(OutOfMemoryReport.Is(new XTunerException(ErrorIds.OutOfHostMemory, "DefaultCPUAllocator: can't allocate memory")));
        }

        [Fact]
        public void ACudaFailureNamesThePhaseStepAndLengthWithoutTheBacktrace()
        {
            var e = OutOfMemoryReport.Describe(new ExternalException(Cuda), "backward", 3, 131072, 2, cuda: true);
            Assert.Equal(ErrorIds.OutOfMemory, e.ErrorId);
            Assert.StartsWith("The GPU ran out of memory in backward at step 3 (sequences of 131,072 tokens, 65,536 per rank at sequence_parallel_size 2): " +
                              "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 139.81 GiB of which 1.06 GiB is free.", e.Message);
            Assert.Contains("To fit: raise sequence_parallel_size", e.Message);
            Assert.DoesNotContain("frame #", e.Message);
            Assert.DoesNotContain("Exception raised from", e.Message);
            Assert.DoesNotContain("\n", e.Message);
        }

        [Fact]
        public void AHostFailureKeepsTheBytesAskedFor()
        {
            var e = OutOfMemoryReport.Describe(new ExternalException(Cpu), "setup", null, 256, 1, cuda: false);
            Assert.Equal("The host ran out of memory in setup (sequences of 256 tokens): DefaultCPUAllocator: can't allocate memory: you tried to allocate " +
                         "1024000000000 bytes. Error code 12 (Cannot allocate memory). To fit: free host memory, shrink the model, or lower max_length.", e.Message);
        }
    }
}
