using System;
using System.Diagnostics;
using System.IO;
using System.Linq;
using System.Threading;
using XTuner.Core.Configuration;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using XTuner.Training.Data.Cache;
using XTuner.Training.Tests.Data.Cache;
using XTuner.Training.Tests.Distributed;
using XTuner.Training.Tests.Tokenization;
using XTuner.Training.Tokenization;
using Xunit;

namespace XTuner.Training.Tests.Cli
{
    /// <summary>xtuner prepare-data as users run it: real processes, one building while others wait, one killed mid-build.</summary>
    [Collection(DistributedCollection.Name)]
    public class PrepareDataCommandTests : TempFolderTest
    {
        private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

        [Fact]
        public void BuildsTheCacheThenReusesItAfterReadingItBack()
        {
            var folder = TempFolder();
            var config = Config(folder, CacheData.Lines(DatasetFormat.Text, 200));

            var first = Run("prepare-data", config);
            Assert.True(first.ExitCode == 0, first.ToString());
            Assert.Contains("data: 200 samples -> ", first.Output);
            Assert.Contains("data: built dataset cache " + Path.Combine(folder, "cache"), first.Output);
            Assert.Matches(@"dataset cache: .* \(0\.\d{3} GB\), built in [0-9.]+ s with \d+ thread\(s\)", first.Output);

            var second = Run("prepare-data", config);
            Assert.True(second.ExitCode == 0, second.ToString());
            Assert.Contains("data: reusing dataset cache", second.Output);
            Assert.Matches(@"data: all \d+ sequences read back and match their checksums", second.Output);
            Assert.Equal(Line(first.Output, "data: 200 samples ->"), Line(second.Output, "data: 200 samples ->"));
        }

        [Fact]
        public void EventsCarryProgressAndTheCacheFolder()
        {
            var folder = TempFolder();
            var result = Run("prepare-data", Config(folder, CacheData.Lines(DatasetFormat.Text, 50)), "--events", "--threads", "1");
            Assert.True(result.ExitCode == 0, result.ToString());
            var events = result.Output.Split('\n').Select(l => RunEvent.TryParse(l.TrimEnd('\r'))).Where(e => e != null).ToList();
            var data = events.Last(e => e!.Kind == "data")!.Data!;
            Assert.Equal((50L, 1), (data.Samples, data.Threads));
            var done = events.Single(e => e!.Kind == "done")!;
            Assert.Equal("built", done.Message);
            Assert.True(File.Exists(Path.Combine(done.Path!, "manifest.json")));
        }

        [Fact]
        public void SyntheticDataAndATurnedOffCacheHaveNothingToPrepare()
        {
            var folder = TempFolder();
            var config = Config(folder, CacheData.Lines(DatasetFormat.Text, 5));
            var synthetic = Run("prepare-data", config, "--cfg-options", "dataset_format=synthetic");
            Assert.Equal(0, synthetic.ExitCode);
            Assert.Contains("nothing to prepare", synthetic.Output);

            var none = Run("prepare-data", config, "--cfg-options", "dataset_cache_dir=none");
            Assert.Equal(1, none.ExitCode);
            Assert.Contains("error [XTunerInvalidConfig]: dataset_cache_dir is none", none.Error);
        }

        [Fact]
        public void ASecondProcessWaitsForTheLockThenBuilds()
        {
            var folder = TempFolder();
            var config = Config(folder, CacheData.Lines(DatasetFormat.Text, 100));
            var key = DatasetCacheKey.Compute(Prepared(config), TokenizerLoader.Load(Fixtures.BpeJson), folder).Key;
            var cacheRoot = Path.Combine(folder, "cache");
            Directory.CreateDirectory(cacheRoot);

            // This process holds the lock as a builder on another rank would.
            var held = new FileStream(Path.Combine(cacheRoot, key + ".lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            using var waiting = new CliProcess("prepare-data", config);
            var clock = Stopwatch.StartNew();
            while (!waiting.Output.Contains("another process is tokenizing") && clock.Elapsed < Timeout && !waiting.HasExited)
                Thread.Sleep(100);
            Assert.Contains("another process is tokenizing", waiting.Output);
            Assert.False(waiting.HasExited, waiting.Output);
            Assert.False(Directory.Exists(Path.Combine(cacheRoot, key)));
            held.Dispose();

            Assert.Equal(0, waiting.WaitForExit(Timeout));
            Assert.Contains("data: built dataset cache " + Path.Combine(cacheRoot, key), waiting.Output);
        }

        [Fact]
        public void ABuilderKilledMidBuildLeavesNoCacheAndTheNextBuildSucceeds()
        {
            var folder = TempFolder();
            // Enough text that one thread tokenizes for several seconds.
            var config = Config(folder, Enumerable.Range(0, 20).SelectMany(i => CacheData.Lines(DatasetFormat.Text, 2000, seed: i)).ToArray());
            var cacheRoot = Path.Combine(folder, "cache");
            using (var builder = new CliProcess("prepare-data", config, "--threads", "1"))
            {
                var clock = Stopwatch.StartNew();
                while ((!Directory.Exists(cacheRoot) || !Directory.GetDirectories(cacheRoot, "*.tmp-*").Any()) && clock.Elapsed < Timeout && !builder.HasExited)
                    Thread.Sleep(20);
                Assert.False(builder.HasExited, builder.Output);
                builder.Kill();
            }
            Assert.Single(Directory.GetDirectories(cacheRoot), d => d.Contains(".tmp-"));
            Assert.DoesNotContain(Directory.GetDirectories(cacheRoot), d => !Path.GetFileName(d).Contains('.'));

            var next = Run("prepare-data", config);
            Assert.True(next.ExitCode == 0, next.ToString());
            Assert.Contains("data: built dataset cache", next.Output);
            Assert.Single(Directory.GetDirectories(cacheRoot));
        }

        /// <summary>tiny-llama reading data.jsonl (written from <paramref name="lines"/>) with the BPE fixture; its cache in folder/cache.</summary>
        private static string Config(string folder, string[] lines)
        {
            File.WriteAllLines(Path.Combine(folder, "data.jsonl"), lines);
            var config = Core.Catalogue.ConfigCatalogue.Get("tiny-llama");
            config.Tokenizer = Fixtures.BpeJson;
            config.Model.VocabSize = 1024;
            config.DataFiles = new System.Collections.Generic.List<string> { Path.Combine(folder, "data.jsonl") };
            config.DatasetFormat = DatasetFormat.Text;
            config.MaxLength = 64;
            config.DatasetCacheDir = Path.Combine(folder, "cache");
            config.WorkDir = Path.Combine(folder, "work");
            var path = Path.Combine(folder, "config.yaml");
            ConfigYaml.Save(config, path);
            return path;
        }

        private static XTunerConfig Prepared(string path) => LaunchPlanner.Prepare(ConfigYaml.Load(path), new LaunchOptions(), out _);

        private static RankResult Run(params string[] args) =>
            RankProcesses.Run(new System.Collections.Generic.Dictionary<int, System.Collections.Generic.Dictionary<string, string>> { [0] = new() }, Timeout, args)[0];

        private static string Line(string output, string start) => output.Split('\n').First(l => l.StartsWith(start, StringComparison.Ordinal)).Trim();
    }
}
