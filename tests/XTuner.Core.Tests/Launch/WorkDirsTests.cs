using System;
using System.IO;
using XTuner.Core.Launch;
using XTuner.Core.Runs;
using Xunit;

namespace XTuner.Core.Tests.Launch
{
    /// <summary>Which checkpoints a work dir holds, by the one rule the launchers, the sbatch script and the trainer share.</summary>
    public class WorkDirsTests : IDisposable
    {
        private readonly string _dir = TempDir.Create();

        public void Dispose() => Directory.Delete(_dir, recursive: true);

        private string Checkpoint(string name, bool complete = true)
        {
            var folder = Directory.CreateDirectory(Path.Combine(_dir, WorkDirLayout.CheckpointFolderName, name)).FullName;
            if (complete) File.WriteAllText(Path.Combine(folder, WorkDirLayout.TrainerStateFile), "{}");
            return folder;
        }

        [Fact]
        public void TheLatestCheckpointIsTheCompleteOneWithTheHighestStep()
        {
            Assert.Null(new WorkDirLayout(_dir).LatestCheckpoint);
            Checkpoint("step-000009");
            var tenth = Checkpoint("step-000010");
            Assert.Equal(tenth, new WorkDirLayout(_dir).LatestCheckpoint);
            Checkpoint("step-000011.tmp");
            Checkpoint("step-000012", complete: false);
            Assert.Equal(tenth, new WorkDirLayout(_dir).LatestCheckpoint);
            Checkpoint("step-999999");
            var millionth = Checkpoint("step-1000000");
            Assert.Equal(millionth, new WorkDirLayout(_dir).LatestCheckpoint);
        }

        [Fact]
        public void ALeftoverSaveInProgressDoesNotBlockAFreshStart()
        {
            Checkpoint("step-000004.tmp");
            Checkpoint("step-000002", complete: false);
            WorkDirs.CheckCanStart(_dir, resume: false);
            Checkpoint("step-000002");
            var e = Assert.Throws<XTunerException>(() => WorkDirs.CheckCanStart(_dir, resume: false));
            Assert.Equal(ErrorIds.InvalidConfig, e.ErrorId);
            Assert.Contains("holds checkpoints of an earlier run", e.Message);
            WorkDirs.CheckCanStart(_dir, resume: true);
        }
    }
}
