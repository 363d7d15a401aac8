using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using System.Text.Json.Nodes;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.IO
{
    /// <summary>Loads and saves a <see cref="DecoderModel"/> as a Hugging Face checkpoint folder.</summary>
    public static class HfCheckpoint
    {
        /// <summary>transformers' default max_shard_size, "5GB" (decimal).</summary>
        public const long DefaultMaxShardBytes = 5_000_000_000;

        private const string SingleFile = "model.safetensors";
        private const int NamesInErrors = 20;

        /// <summary>
        /// Reads model.safetensors or the shards listed in model.safetensors.index.json into <paramref name="model"/>,
        /// converting to the model's dtype and device. Every model tensor must be present and nothing else (a tied
        /// model may find its lm_head absent or present; rotary inv_freq buffers of old exports are ignored).
        /// </summary>
        public static void Load(DecoderModel model, string directory)
        {
            var parameters = model.named_parameters().ToList();
            using var reader = Open(model, directory, parameters.Select(p => (p.name, p.parameter.shape)).ToList());
            foreach (var (name, parameter) in parameters)
                reader.ReadInto(name, parameter);
        }

        /// <summary>
        /// Opens a checkpoint for reading tensors one at a time (ZeRO-3 loads unit by unit), after checking it holds
        /// exactly <paramref name="expected"/> (names and shapes of the model's parameters).
        /// </summary>
        public static CheckpointReader Open(DecoderModel model, string directory, IReadOnlyList<(string Name, long[] Shape)> expected)
        {
            var files = OpenCheckpoint(directory);
            try
            {
                var stored = new Dictionary<string, SafetensorsFile>(StringComparer.Ordinal);
                foreach (var file in files)
                {
                    foreach (var name in file.Tensors.Keys)
                        stored[name] = file;
                }
                Validate(model, directory, expected.ToDictionary(e => e.Name, e => e.Shape, StringComparer.Ordinal), stored);
                return new CheckpointReader(files, stored);
            }
            catch
            {
                foreach (var file in files)
                    file.Dispose();
                throw;
            }
        }

        /// <summary>Reads a checkpoint's tensors by name into destinations of the same shape (any dtype and device).</summary>
        public sealed class CheckpointReader : IDisposable
        {
            private readonly List<SafetensorsFile> _files;
            private readonly Dictionary<string, SafetensorsFile> _stored;

            internal CheckpointReader(List<SafetensorsFile> files, Dictionary<string, SafetensorsFile> stored)
            {
                _files = files;
                _stored = stored;
            }

            public void ReadInto(string name, Tensor destination) => _stored[name].ReadInto(name, destination);

            /// <summary>Part of a tensor, by element range of its flattened form (see <see cref="SafetensorsFile.ReadRangeInto"/>).</summary>
            public void ReadRangeInto(string name, long elementOffset, Tensor destination) => _stored[name].ReadRangeInto(name, elementOffset, destination);

            public void Dispose()
            {
                foreach (var file in _files)
                    file.Dispose();
            }
        }

        /// <summary>
        /// Writes config.json, generation_config.json and the weights (model.safetensors, or shards of at most
        /// <paramref name="maxShardBytes"/> with model.safetensors.index.json) to <paramref name="directory"/>, which it
        /// replaces as a whole: everything is written into a temporary sibling folder first and renamed into place, so
        /// an interrupted save leaves the previous checkpoint intact.
        /// </summary>
        public static void Save(DecoderModel model, ModelSpec spec, string directory, long maxShardBytes = DefaultMaxShardBytes, ScalarType? saveDtype = null) =>
            Save(model.named_parameters().Select(p => new KeyValuePair<string, Tensor>(p.name, p.parameter)).ToList(), spec, directory,
                saveDtype ?? model.LmHeadWeight.dtype, maxShardBytes);

        /// <summary>Saves named tensors (the model's parameters, in state_dict order) as a checkpoint, as above.</summary>
        public static void Save(IReadOnlyList<KeyValuePair<string, Tensor>> parameters, ModelSpec spec, string directory, ScalarType dtype, long maxShardBytes = DefaultMaxShardBytes)
        {
            if (maxShardBytes < 1)
                throw new ArgumentOutOfRangeException(nameof(maxShardBytes), maxShardBytes, "Shards hold at least one byte.");
            var target = Path.GetFullPath(directory).TrimEnd(Path.DirectorySeparatorChar);
            var parent = Path.GetDirectoryName(target) ?? throw new ArgumentException($"'{directory}' has no parent folder.", nameof(directory));
            Directory.CreateDirectory(parent);
            var staging = Path.Combine(parent, $".{Path.GetFileName(target)}.saving-{Guid.NewGuid():N}");
            Directory.CreateDirectory(staging);
            try
            {
                File.WriteAllText(Path.Combine(staging, "config.json"), HfModelConfig.Write(spec, torchDtype: TorchDtypeName(dtype)));
                File.WriteAllText(Path.Combine(staging, "generation_config.json"),
                    new JsonObject { ["_from_model_config"] = true }.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
                WriteWeights(staging, parameters, dtype, maxShardBytes);
                Replace(target, staging);
            }
            catch
            {
                if (Directory.Exists(staging))
                    Directory.Delete(staging, true);
                throw;
            }
        }

        private static List<SafetensorsFile> OpenCheckpoint(string directory)
        {
            if (!Directory.Exists(directory))
                throw new DirectoryNotFoundException($"Checkpoint folder '{directory}' does not exist.");
            var single = Path.Combine(directory, SingleFile);
            if (File.Exists(single))
                return new List<SafetensorsFile> { SafetensorsFile.Open(single) };
            var index = Path.Combine(directory, SafetensorsIndex.FileName);
            if (!File.Exists(index))
                throw new FileNotFoundException($"'{directory}' has neither {SingleFile} nor {SafetensorsIndex.FileName}; convert .bin weights to safetensors first.", single);
            var files = new List<SafetensorsFile>();
            try
            {
                foreach (var shard in SafetensorsIndex.Read(index).Values.Distinct(StringComparer.Ordinal))
                    files.Add(SafetensorsFile.Open(Path.Combine(directory, shard)));
            }
            catch
            {
                foreach (var file in files)
                    file.Dispose();
                throw;
            }
            return files;
        }

        private static void Validate(DecoderModel model, string directory, IReadOnlyDictionary<string, long[]> parameters, IReadOnlyDictionary<string, SafetensorsFile> stored)
        {
            var missing = parameters.Keys.Where(name => !stored.ContainsKey(name)).ToList();
            var unexpected = stored.Keys.Where(name => !parameters.ContainsKey(name) && !Ignorable(model, name)).ToList();
            var mismatched = parameters
                .Where(p => stored.TryGetValue(p.Key, out var file) && !file.Tensors[p.Key].Shape.SequenceEqual(p.Value))
                .Select(p => $"{p.Key} [{string.Join(", ", stored[p.Key].Tensors[p.Key].Shape)}] (model [{string.Join(", ", p.Value)}])")
                .ToList();
            if (missing.Count == 0 && unexpected.Count == 0 && mismatched.Count == 0)
                return;
            var problems = new List<string>();
            if (missing.Count > 0) problems.Add($"missing tensors: {Names(missing)}");
            if (unexpected.Count > 0) problems.Add($"unexpected tensors: {Names(unexpected)}");
            if (mismatched.Count > 0) problems.Add($"shape mismatches: {Names(mismatched)}");
            throw new InvalidDataException(
                $"The checkpoint in '{directory}' does not fit the {model.Architecture} model described by its config: {string.Join("; ", problems)}.");
        }

        private static bool Ignorable(DecoderModel model, string name) =>
            (model.TiedEmbeddings && name == model.LmHeadName) || name.EndsWith("rotary_emb.inv_freq", StringComparison.Ordinal);

        private static string Names(IReadOnlyList<string> names) =>
            names.Count <= NamesInErrors
                ? string.Join(", ", names)
                : $"{string.Join(", ", names.Take(NamesInErrors))} and {names.Count - NamesInErrors} more";

        private static void WriteWeights(string folder, IReadOnlyList<KeyValuePair<string, Tensor>> parameters, ScalarType dtype, long maxShardBytes)
        {
            // transformers' sharding: tensors in state_dict order, a new shard whenever the next would overflow this one.
            var shards = new List<List<KeyValuePair<string, Tensor>>> { new List<KeyValuePair<string, Tensor>>() };
            long shardBytes = 0, totalBytes = 0;
            foreach (var parameter in parameters)
            {
                var bytes = parameter.Value.numel() * SafetensorsDType.Size(dtype);
                if (shards[^1].Count > 0 && shardBytes + bytes > maxShardBytes)
                {
                    shards.Add(new List<KeyValuePair<string, Tensor>>());
                    shardBytes = 0;
                }
                shards[^1].Add(parameter);
                shardBytes += bytes;
                totalBytes += bytes;
            }
            if (shards.Count == 1)
            {
                SafetensorsWriter.Write(Path.Combine(folder, SingleFile), shards[0], dtype);
                return;
            }
            var weightMap = new List<KeyValuePair<string, string>>();
            for (var i = 0; i < shards.Count; i++)
            {
                var fileName = $"model-{i + 1:D5}-of-{shards.Count:D5}.safetensors";
                SafetensorsWriter.Write(Path.Combine(folder, fileName), shards[i], dtype);
                weightMap.AddRange(shards[i].Select(p => new KeyValuePair<string, string>(p.Key, fileName)));
            }
            SafetensorsIndex.Write(Path.Combine(folder, SafetensorsIndex.FileName), totalBytes, weightMap);
        }

        private static void Replace(string target, string staging)
        {
            if (!Directory.Exists(target))
            {
                Directory.Move(staging, target);
                return;
            }
            var previous = $"{staging}.previous";
            Directory.Move(target, previous);
            Directory.Move(staging, target);
            Directory.Delete(previous, true);
        }

        private static string TorchDtypeName(ScalarType dtype) => dtype switch
        {
            ScalarType.Float32 => "float32",
            ScalarType.BFloat16 => "bfloat16",
            ScalarType.Float16 => "float16",
            ScalarType.Float64 => "float64",
            _ => throw new ArgumentException($"Weights cannot be saved as {dtype}."),
        };
    }
}
