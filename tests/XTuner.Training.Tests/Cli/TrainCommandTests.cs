using System;
using System.Collections.Generic;
using System.IO;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    [Collection(DistributedCollection.Name)]
    public class TrainCommandTests
    {
        private static RankResult Train(Dictionary<string, string> env, params string[] args) =>
            RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = env }, TimeSpan.FromMinutes(2), args)[0];

        [Fact]
        public void CudaWithoutACudaLibTorchSaysWhatToSet()
        {
            var empty = Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), "xtuner-no-libtorch-" + Guid.NewGuid().ToString("N"))).FullName;
            var result = Train(new Dictionary<string, string> { ["XTUNER_LIBTORCH_DIR"] = empty },
                "train", "tiny-llama", "--device", "cuda", "--launcher", "pytorch", "--max-steps", "1", "--work-dir", Path.Combine(empty, "run"));
            Assert.Equal(1, result.ExitCode);
            Assert.Contains($"XTUNER_LIBTORCH_DIR={empty} holds no libtorch_cuda.so", result.Error);
        }

        [Fact]
        public void OffloadTheHostCannotHoldIsRefusedBeforeTrainingWithTheBytes()
        {
            var workDir = Path.Combine(Path.GetTempPath(), "xtuner-host-memory-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            // 1M tokens x 65536 wide x 64 layers of float32 checkpoints: petabytes, refused before the model is built.
            var result = Train(new Dictionary<string, string>(), "train", "tiny-llama", "--work-dir", workDir, "--max-steps", "1", "--cfg-options",
                "max_length=1m", "model.max_position_embeddings=1m", "model.hidden_size=65536", "model.num_attention_heads=64",
                "model.num_key_value_heads=64", "model.num_hidden_layers=64", "activation_checkpointing=true", "offload_activations=true", "offload_optimizer=true");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("[XTunerOutOfHostMemory]", result.Error);
            Assert.Contains("GiB of activations", result.Error);
            Assert.Contains("available for each of its 1 rank(s)", result.Error);
        }

        [Fact]
        public void TheRunSaysWhereItsMemoryGoes()
        {
            var workDir = Path.Combine(Path.GetTempPath(), "xtuner-memory-line-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            var result = Train(new Dictionary<string, string>(), "train", "tiny-llama", "--work-dir", workDir, "--max-steps", "1", "--cfg-options",
                "activation_checkpointing=true", "offload_optimizer=true", "offload_activations=true", "mlp_tiles=2");
            Assert.Equal(0, result.ExitCode);
            Assert.Contains("memory: optimizer states in host memory (", result.Output);
            Assert.Contains("checkpointed activations in host memory (", result.Output);
            Assert.Contains("mlp_tiles 2", result.Output);
            // The planner's warning is for CUDA launches only.
            Assert.DoesNotContain("XTunerPredictedOutOfMemory", result.Output + result.Error);
        }

        [Fact]
        public void UnknownConfigsAndOptionsAreUsageErrors()
        {
            var unknown = Train(new Dictionary<string, string>(), "train", "tiny-lama");
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("[XTunerConfigNotFound]", unknown.Error);
            Assert.Contains("Did you mean 'tiny-llama'?", unknown.Error);
            var option = Train(new Dictionary<string, string>(), "train", "tiny-llama", "--max-step", "3");
            Assert.Equal(2, option.ExitCode);
            Assert.Contains("did you mean '--max-steps'?", option.Error);
            var key = Train(new Dictionary<string, string>(), "train", "tiny-llama", "--cfg-options", "max_lenght=8");
            Assert.Equal(1, key.ExitCode);
            Assert.Contains("Did you mean 'max_length'?", key.Error);
        }

        [Fact]
        public void ARankZeroFailureIsReportedAtOnceWithItsOwnError()
        {
            // Rank 0 cannot create its checkpoint folder while rank 1 waits for it at the checkpoint barrier.
            var workDir = Path.Combine(Path.GetTempPath(), "xtuner-rank0-fails-" + Guid.NewGuid().ToString("N").Substring(0, 8));
            Directory.CreateDirectory(workDir);
            File.WriteAllText(Path.Combine(workDir, "checkpoints"), "not a folder");
            var watch = System.Diagnostics.Stopwatch.StartNew();
            var result = Train(new Dictionary<string, string>(), "train", "tiny-llama-sp2", "--work-dir", workDir, "--max-steps", "3", "--cfg-options", "save_steps=1");
            Assert.Equal(1, result.ExitCode);
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"the failure took {watch.Elapsed.TotalSeconds:F0} s to surface");
            Assert.Contains("Rank 0 exited with code 1", result.Error);
            Assert.Contains("checkpoints", result.Error);
        }

        [Fact]
        public void AnInvalidSequenceParallelSizeNamesTheHeadsAndTheSize()
        {
            var result = Train(new Dictionary<string, string>(), "train", "tiny-llama", "--nproc-per-node", "3", "--cfg-options", "sequence_parallel_size=3");
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("[XTunerInvalidSequenceParallelSize]", result.Error);
            Assert.Contains("sequence_parallel_size 3 does not divide the model's 8 attention heads", result.Error);
        }
    }
}
