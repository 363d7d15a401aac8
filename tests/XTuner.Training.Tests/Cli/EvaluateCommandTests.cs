using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Linq;
using System.Text.Json;
using XTuner.Training.IO;
using XTuner.Training.Tests.Distributed;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    [Collection(DistributedCollection.Name)]
    public class EvaluateCommandTests
    {
        [Theory]
        [InlineData("tiny-llama")]
        [InlineData("tiny-qwen2")]
        [InlineData("tiny-cohere-qknorm")]
        [InlineData("tiny-mistral-window")]
        [InlineData("tiny-qwen2-windows")]
        public void LossOfAFixtureCheckpointEqualsTransformers(string fixture)
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", fixture);
            using var reference = SafetensorsFile.Open(Path.Combine(dir, "reference.safetensors"));
            var ids = reference.Read("input_ids");
            var labels = reference.Read("labels");
            var expected = reference.Read("loss").item<float>();
            var data = Path.Combine(Path.GetTempPath(), $"xtuner-eval-{Guid.NewGuid():N}.jsonl");
            File.WriteAllLines(data, Enumerable.Range(0, (int)ids.shape[0]).Select(r => JsonSerializer.Serialize(new
            {
                input_ids = ids[r].data<long>().ToArray(),
                labels = labels[r].data<long>().ToArray(),
            })));

            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(2), "evaluate", dir, "--data", data)[0];

            Assert.True(result.ExitCode == 0, result.ToString());
            using var json = JsonDocument.Parse(result.Output.Trim().Split('\n').Last());
            var loss = json.RootElement.GetProperty("loss").GetDouble();
            Assert.InRange(Math.Abs(loss - expected) / expected, 0, 1e-5);
            // Labels != -100 after the causal shift: 47 + 47 minus the ignored ones (row 0: 1..4, row 1: 40..47).
            Assert.Equal(labels.narrow(1, 1, labels.shape[1] - 1).ne(-100).sum().item<long>(), json.RootElement.GetProperty("tokens").GetInt64());
        }

        private static JsonElement Evaluate(string model, string data, params string[] options)
        {
            var args = new List<string> { "evaluate", model, "--data", data, "--batch-size", "2" };
            if (options.Length > 0) args.Add("--cfg-options");
            args.AddRange(options);
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(2), args.ToArray())[0];
            Assert.True(result.ExitCode == 0, result.ToString());
            using var json = JsonDocument.Parse(result.Output.Trim().Split('\n').Last());
            return json.RootElement.Clone();
        }

        [Theory]
        [InlineData("tiny-llama")]
        [InlineData("tiny-qwen2")]
        public void PackedDocumentsKeptApartHaveTheLossOfEachDocumentAlone(string fixture)
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", fixture);
            var random = new Random(11);
            var data = Path.Combine(Path.GetTempPath(), $"xtuner-docs-{Guid.NewGuid():N}.jsonl");
            File.WriteAllLines(data, Enumerable.Range(0, 9).Select(_ =>
            {
                var ids = Enumerable.Range(0, random.Next(3, 41)).Select(__ => random.Next(1, 120)).ToArray();
                return JsonSerializer.Serialize(new { input_ids = ids });
            }));

            var alone = Evaluate(dir, data);
            var packed = Evaluate(dir, data, "pack_to_max_length=true", "max_length=96");
            var mixed = Evaluate(dir, data, "pack_to_max_length=true", "max_length=96", "use_varlen_attn=false");

            Assert.True(packed.GetProperty("sequences").GetInt64() < alone.GetProperty("sequences").GetInt64(), "nothing was packed");
            Assert.Equal(alone.GetProperty("tokens").GetInt64(), packed.GetProperty("tokens").GetInt64());
            var (a, p) = (alone.GetProperty("loss").GetDouble(), packed.GetProperty("loss").GetDouble());
            Assert.InRange(Math.Abs(p - a) / a, 0, 1e-6);
            // Without isolation documents see each other and predict the next one's first token: another loss.
            Assert.True(mixed.GetProperty("tokens").GetInt64() > packed.GetProperty("tokens").GetInt64());
            Assert.True(Math.Abs(mixed.GetProperty("loss").GetDouble() - a) / a > 1e-4);
        }

        /// <summary>
        /// documents.safetensors: three documents that transformers evaluated one by one (positions from 0, the token
        /// mean over their 45 targets). Packed into one 48-token sequence they must give that loss.
        /// </summary>
        [Fact]
        public void APackedSequenceHasTransformersLossOfItsDocumentsEvaluatedAlone()
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", "tiny-llama");
            using var reference = SafetensorsFile.Open(Path.Combine(dir, "documents.safetensors"));
            var row = reference.Read("input_ids")[0].data<long>().ToArray();
            var lengths = reference.Read("lengths").data<long>().ToArray();
            var data = Path.Combine(Path.GetTempPath(), $"xtuner-refdocs-{Guid.NewGuid():N}.jsonl");
            File.WriteAllLines(data, lengths.Select((n, d) =>
                JsonSerializer.Serialize(new { input_ids = row.Skip((int)lengths.Take(d).Sum()).Take((int)n).ToArray() })));

            var packed = Evaluate(dir, data, "pack_to_max_length=true", $"max_length={row.Length}", "shuffle=false");

            Assert.Equal(1, packed.GetProperty("sequences").GetInt64());
            Assert.Equal(reference.Read("target_counts").sum().item<long>(), packed.GetProperty("tokens").GetInt64());
            var expected = reference.Read("loss").item<float>();
            Assert.InRange(Math.Abs(packed.GetProperty("loss").GetDouble() - expected) / expected, 0, 1e-5);
        }

        [Fact]
        public void AMissingDataFileIsXTunerPathNotFoundNamingTheFileAndTheBuiltInOnes()
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", "tiny-llama");
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(1), "evaluate", dir, "--data", "/nonexistent/data.jsonl")[0];
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("error [XTunerPathNotFound]: The data file '/nonexistent/data.jsonl' does not exist", result.Error);
            Assert.Contains("builtin:alpaca-sample", result.Error);
            Assert.DoesNotContain("FileNotFoundException", result.Error);
        }

        [Fact]
        public void BuiltInDataEvaluatesAsDataFilesTakeIt()
        {
            var dir = Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", "tiny-llama");
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(2), "evaluate", dir, "--data", "builtin:tokenized-sample")[0];
            Assert.True(result.ExitCode == 0, result.ToString());
            using var json = JsonDocument.Parse(result.Output.Trim().Split('\n').Last());
            Assert.True(json.RootElement.GetProperty("tokens").GetInt64() > 0);
            Assert.True(double.IsFinite(json.RootElement.GetProperty("loss").GetDouble()));

            var unknown = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(1), "evaluate", dir, "--data", "builtin:nothing")[0];
            Assert.Equal(1, unknown.ExitCode);
            Assert.Contains("[XTunerPathNotFound]: There is no built-in dataset 'builtin:nothing'", unknown.Error);
        }

        [Fact]
        public void AMissingModelIsAClearError()
        {
            var result = RankProcesses.Run(new Dictionary<int, Dictionary<string, string>> { [0] = new Dictionary<string, string>() },
                TimeSpan.FromMinutes(1), "evaluate", "/nonexistent/model", "--data", "/nonexistent/data.jsonl")[0];
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("XTunerModelNotFound", result.Error);
        }
    }
}
