using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Serialization;
using XTuner.Core;
using XTuner.Core.Runs;
using XTuner.Training.Distributed;
using XTuner.Training.IO;
using XTuner.Training.Optim;

namespace XTuner.Training.Engine
{
    /// <summary>What a checkpoint records besides tensors.</summary>
    public sealed class TrainerState
    {
        [JsonPropertyName("step")] public int Step { get; set; }
        [JsonPropertyName("total_steps")] public int TotalSteps { get; set; }
        [JsonPropertyName("world_size")] public int WorldSize { get; set; }
        [JsonPropertyName("zero_stage")] public int ZeroStage { get; set; }
        [JsonPropertyName("sequence_parallel_size")] public int SequenceParallelSize { get; set; }
        [JsonPropertyName("name")] public string? Name { get; set; }
        [JsonPropertyName("saved")] public DateTime Saved { get; set; }
    }

    /// <summary>
    /// Checkpoints under <c>work_dir/checkpoints/step-NNNNNN</c>: every rank writes its optimizer shard (master weights
    /// and moments; rank 0 alone when nothing is sharded) into a <c>.tmp</c> folder, and rank 0 renames it into place
    /// once all have finished, so a crash never leaves a checkpoint that looks complete. The data position follows
    /// from the step, so resuming replays exactly the batches an uninterrupted run would have seen.
    /// </summary>
    public sealed class TrainingCheckpoints
    {
        private readonly WorkDirLayout _layout;
        private readonly int _totalLimit;

        public TrainingCheckpoints(string workDir, int saveTotalLimit)
        {
            _layout = new WorkDirLayout(workDir);
            _totalLimit = saveTotalLimit;
        }

        /// <summary>Collective: every rank of <paramref name="world"/> calls it at the same step.</summary>
        public string Save(TrainerState state, MixedPrecisionAdamW optimizer, IProcessGroup world)
        {
            bool sharded = optimizer.Zero.IsSharded;
            var final = _layout.Checkpoint(state.Step);
            var tmp = final + WorkDirLayout.CheckpointTempSuffix;
            if (world.Rank == 0)
            {
                if (Directory.Exists(tmp)) Directory.Delete(tmp, recursive: true);
                Directory.CreateDirectory(tmp);
            }
            world.Barrier();
            if (sharded || world.Rank == 0)
            {
                var file = sharded ? $"optimizer-rank{world.Rank:D5}.safetensors" : "optimizer.safetensors";
                SafetensorsWriter.Write(Path.Combine(tmp, file), optimizer.States.StateTensors(),
                    metadata: new Dictionary<string, string> { ["step"] = state.Step.ToString(), ["rank"] = world.Rank.ToString() });
            }
            world.Barrier();
            if (world.Rank == 0)
            {
                File.WriteAllText(Path.Combine(tmp, WorkDirLayout.TrainerStateFile), JsonSerializer.Serialize(state, new JsonSerializerOptions { WriteIndented = true }));
                if (Directory.Exists(final)) Directory.Delete(final, recursive: true);
                Directory.Move(tmp, final);
                Prune();
            }
            world.Barrier();
            return final;
        }

        /// <summary>Restores the optimizer (and through it the model) from a checkpoint; returns its state.</summary>
        public static TrainerState Load(string directory, MixedPrecisionAdamW optimizer, int rank, int worldSize)
        {
            bool sharded = optimizer.Zero.IsSharded;
            var statePath = Path.Combine(directory, WorkDirLayout.TrainerStateFile);
            if (!File.Exists(statePath))
                throw new XTunerException(ErrorIds.PathNotFound, $"{directory} is not a checkpoint (no {WorkDirLayout.TrainerStateFile}).");
            TrainerState state;
            try
            {
                state = JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(statePath)) ?? throw new JsonException("it holds null");
            }
            catch (JsonException e)
            {
                throw Corrupt(statePath, directory, e);
            }
            if (state.WorldSize != worldSize || state.ZeroStage != optimizer.Zero.Stage && sharded)
                throw new XTunerException(ErrorIds.InvalidConfig,
                    $"{directory} was saved by {state.WorldSize} ranks with zero_stage {state.ZeroStage}; this run has {worldSize} ranks and zero_stage {optimizer.Zero.Stage}. Resume with the same layout.");
            var file = Path.Combine(directory, sharded ? $"optimizer-rank{rank:D5}.safetensors" : "optimizer.safetensors");
            if (!File.Exists(file))
                throw new XTunerException(ErrorIds.PathNotFound, $"{file} is missing: the checkpoint is incomplete.");
            try
            {
                using var tensors = SafetensorsFile.Open(file);
                optimizer.LoadState(tensors, state.Step);
            }
            catch (Exception e) when (e is InvalidDataException || e is EndOfStreamException || e is JsonException)
            {
                throw Corrupt(file, directory, e);
            }
            return state;
        }

        /// <summary>The error for a checkpoint file that cannot be read: it names the file, and the checkpoint before it.</summary>
        private static XTunerException Corrupt(string file, string directory, Exception e)
        {
            var full = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
            var workDir = Path.GetDirectoryName(Path.GetDirectoryName(full) ?? "");
            var complete = workDir == null ? new List<string>() : new WorkDirLayout(workDir).CompleteCheckpoints().Select(Path.GetFullPath).ToList();
            int index = complete.IndexOf(full);
            var earlier = index > 0 ? complete[index - 1] : null;
            string what = earlier != null
                ? $"resume from the checkpoint before it (--resume {earlier}, or Start-XTunerTraining -ResumeFrom), or remove {directory}"
                : $"remove {directory} and train from the start";
            return new XTunerException(ErrorIds.CheckpointCorrupt, $"{file} cannot be read ({e.Message.Split('\n')[0].TrimEnd('\r')}): {what}.", e);
        }

        private void Prune()
        {
            if (_totalLimit < 1) return;
            var complete = _layout.CompleteCheckpoints();
            foreach (var stale in complete.Take(Math.Max(0, complete.Count - _totalLimit)))
                Directory.Delete(stale, recursive: true);
        }

    }
}
