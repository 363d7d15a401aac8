using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.Json;
using XTuner.Core;
using XTuner.Core.Catalogue;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.Data;
using XTuner.Training.IO;
using XTuner.Training.Models;
using XTuner.Training.SequenceParallel;
using XTuner.Training.Tokenization;
using static TorchSharp.torch;

namespace XTuner.Training.Engine
{
    /// <summary>The token-mean cross-entropy of a model over a dataset (what <c>xtuner evaluate</c> prints).</summary>
    public sealed class EvaluationResult
    {
        public double Loss { get; init; }
        public long Tokens { get; init; }
        public long Sequences { get; init; }
    }

    /// <summary>
    /// Evaluates a Hugging Face checkpoint folder (or a config's model) on a JSONL file: by default every sample is its
    /// own sequence (no packing), batches are padded, and the loss is the mean over every target token of the dataset,
    /// exactly as transformers computes a batch's loss. Options may pack the samples instead (pack_to_max_length,
    /// max_length, use_varlen_attn): with use_varlen_attn the packed loss is the unpacked one, which the tests check.
    /// </summary>
    public static class Evaluator
    {
        public static EvaluationResult Run(XTunerConfig config, string dataFile, int batchSize, DeviceKind device, int? maxLength, DatasetFormat? format,
            IEnumerable<string>? options = null)
        {
            var baseDir = Directory.GetCurrentDirectory();
            var resolved = ResolvedModel.Resolve(config, baseDir).ThrowOnError();
            if (resolved.CheckpointDirectory == null)
                throw new XTunerException(ErrorIds.ModelNotFound, $"Nothing to evaluate: '{config.ModelName}' is not a checkpoint on this machine.");
            var spec = resolved.Spec;
            var data = config.Clone();
            data.Model = spec;
            data.DataFiles = new System.Collections.Generic.List<string> { BuiltinData.IsBuiltin(dataFile) ? dataFile : PathUtil.Resolve(dataFile, baseDir) };
            data.DatasetFormat = format ?? DetectFormat(data.DataFiles[0]);
            data.PackToMaxLength = false;
            // One pass over a file that is not a run's training data: nothing to reuse, so nothing is cached.
            data.DatasetCacheDir = Core.Datasets.DatasetCacheDirectory.Disabled;
            data.MaxLength = maxLength ?? (int)Math.Min(spec.SupportedPositions ?? 4096, 4096);
            data.UseVarlenAttn = null;
            if (options != null) ConfigYaml.ApplyOptions(data, options);
            var tokenizer = data.DatasetFormat == DatasetFormat.Tokenized ? null : TokenizerLoader.Load(config.Tokenizer, resolved.CheckpointDirectory);
            var sequences = DatasetBuilder.Build(data, tokenizer, baseDir, out _);

            var dev = device == DeviceKind.Cuda ? CUDA : CPU;
            if (device == DeviceKind.Cuda)
            {
                Runtime.LibTorchLocator.PrepareCuda();
                InitializeDeviceType(TorchSharp.DeviceType.CUDA);
            }
            using var model = new DecoderModel(spec, dev, ScalarType.Float32);
            HfCheckpoint.Load(model, resolved.CheckpointDirectory);
            int padId = tokenizer?.PadTokenId ?? tokenizer?.EosTokenId ?? 0;
            double lossSum = 0;
            long tokens = 0;
            using var noGrad = no_grad();
            for (int start = 0; start < sequences.Count; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = sequences.Skip(start).Take(batchSize).Select(s => (s.InputIds, s.Labels, s.PositionIds)).ToList();
                var chunk = SequenceChunk.Split(rows, padId, 1, 0, data.IsolatesDocuments);
                var hidden = model.Forward(tensor(chunk.InputIds, device: dev).view(chunk.BatchSize, chunk.ChunkLength),
                    tensor(chunk.PositionIds, device: dev).view(chunk.BatchSize, chunk.ChunkLength), chunk.RopeSequenceLength, chunk.Documents);
                var loss = LanguageModelLoss.Sum(hidden.reshape(-1, hidden.shape[2]), model.LmHeadWeight, tensor(chunk.Targets, device: dev),
                    model.LogitScale, 4096);
                lossSum += loss.item<float>();
                tokens += chunk.ValidTargets;
            }
            return new EvaluationResult { Loss = tokens > 0 ? lossSum / tokens : double.NaN, Tokens = tokens, Sequences = sequences.Count };
        }

        /// <summary>The dataset format from the first record's keys.</summary>
        public static DatasetFormat DetectFormat(string path)
        {
            using var reader = BuiltinData.IsBuiltin(path) ? new StreamReader(BuiltinData.Open(path)) : new StreamReader(path);
            string? first;
            while ((first = reader.ReadLine()) != null && first.Trim().Length == 0) { }
            if (first == null) throw new XTunerException(ErrorIds.BadDataLine, $"{path} is empty.");
            using var doc = JsonDocument.Parse(first);
            var root = doc.RootElement;
            if (root.TryGetProperty("messages", out _)) return DatasetFormat.Chat;
            if (root.TryGetProperty("input_ids", out _)) return DatasetFormat.Tokenized;
            if (root.TryGetProperty("instruction", out _)) return DatasetFormat.Alpaca;
            if (root.TryGetProperty("text", out _)) return DatasetFormat.Text;
            throw new XTunerException(ErrorIds.BadDataLine, $"{path}:1: cannot tell the format from its keys; pass --format text|alpaca|chat|tokenized.");
        }
    }
}
