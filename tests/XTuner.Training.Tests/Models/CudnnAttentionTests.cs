using XTuner.Training.Models.Attention;
using Xunit;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>
    /// The TorchScript unit that calls cuDNN's attention: it compiles against the libtorch CI runs (the ops' schemas;
    /// a compile error would end a GPU run's process, not throw), and off CUDA kept attention keeps its graph.
    /// </summary>
    public class CudnnAttentionTests
    {
        [Fact]
        public void TheScriptCompilesAgainstThisLibtorchsSchemas()
        {
            var unit = CudnnAttention.Compiled;
            Assert.NotNull(unit);
        }

        [Fact]
        public void OffCudaTheKernelKeepsNoOutputAloneAndKeptAttentionKeepsItsGraph()
        {
            using var scope = NewDisposeScope();
            var generator = new Generator(3);
            var q = randn(new long[] { 1, 6, 4, 8 }, generator: generator).to(ScalarType.BFloat16);
            var k = randn(new long[] { 1, 6, 2, 8 }, generator: generator).to(ScalarType.BFloat16);
            var v = randn(new long[] { 1, 6, 2, 8 }, generator: generator).to(ScalarType.BFloat16);
            var attention = new LocalCausalAttention();
            Assert.False(CudnnAttention.Supports(q));
            Assert.Null(attention.AttendKeepingOutput(q, k, v, AttentionMask.Causal));

            var kept = new KeptAttention();
            using (no_grad())
                kept.Attend(attention, q, k, v, AttentionMask.Causal);
            Assert.False(kept.KeepsOutputOnly);
        }
    }
}
