using System;
using System.IO;
using XTuner.Core.Configuration;

namespace XTuner.Core.Datasets
{
    /// <summary>Where a config's tokenized datasets are kept (<c>dataset_cache_dir</c>).</summary>
    public static class DatasetCacheDirectory
    {
        /// <summary>The <c>dataset_cache_dir</c> value that turns the cache off: every run tokenizes in memory.</summary>
        public const string Disabled = "none";

        /// <summary>The folder under a work dir used when <c>dataset_cache_dir</c> is not set.</summary>
        public const string DefaultFolderName = "dataset_cache";

        /// <summary>True when <paramref name="value"/> is the word that turns the cache off.</summary>
        public static bool IsDisabled(string? value) => string.Equals(value?.Trim(), Disabled, StringComparison.OrdinalIgnoreCase);

        /// <summary>
        /// The cache folder of a prepared config (absolute paths): <c>dataset_cache_dir</c>, else WORK_DIR/dataset_cache;
        /// null when the cache is off, or when neither is set (a config that is not a run's, as in <c>xtuner evaluate</c>).
        /// </summary>
        public static string? Resolve(XTunerConfig config)
        {
            if (IsDisabled(config.DatasetCacheDir)) return null;
            if (!string.IsNullOrWhiteSpace(config.DatasetCacheDir)) return Path.GetFullPath(PathUtil.ExpandHome(config.DatasetCacheDir!));
            return config.WorkDir != null ? Path.Combine(Path.GetFullPath(config.WorkDir), DefaultFolderName) : null;
        }
    }
}
