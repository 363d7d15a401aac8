namespace XTuner.Core
{
    /// <summary>
    /// Stable error identifiers. PowerShell users match them with <c>Should -Throw -ErrorId</c> and
    /// <c>$_.FullyQualifiedErrorId</c>; the CLI prints them in brackets. Never rename one.
    /// </summary>
    public static class ErrorIds
    {
        public const string InvalidConfig = "XTunerInvalidConfig";
        public const string UnknownConfigKey = "XTunerUnknownConfigKey";
        public const string InvalidConfigValue = "XTunerInvalidConfigValue";
        public const string ConfigNotFound = "XTunerConfigNotFound";
        public const string ConfigFileNotFound = "XTunerConfigFileNotFound";
        public const string ConfigFileExists = "XTunerConfigFileExists";
        public const string ConfigFileWriteFailed = "XTunerConfigFileWriteFailed";
        public const string InvalidSequenceParallelSize = "XTunerInvalidSequenceParallelSize";
        public const string InvalidWorldSize = "XTunerInvalidWorldSize";
        public const string SequenceTooLong = "XTunerSequenceTooLong";
        public const string PathNotFound = "XTunerPathNotFound";
        public const string ModelNotFound = "XTunerModelNotFound";
        public const string ModelMismatch = "XTunerModelMismatch";
        public const string RankFailed = "XTunerRankFailed";
        public const string RendezvousTimeout = "XTunerRendezvousTimeout";
        public const string RendezvousFailed = "XTunerRendezvousFailed";
        public const string InvalidRankEnvironment = "XTunerInvalidRankEnvironment";
        public const string CollectiveFailed = "XTunerCollectiveFailed";
        public const string CudaUnavailable = "XTunerCudaUnavailable";
        public const string WorkerNotFound = "XTunerWorkerNotFound";
        public const string RunNotFound = "XTunerRunNotFound";
        public const string RunNotStoppable = "XTunerRunNotStoppable";
        public const string SlurmSubmitFailed = "XTunerSlurmSubmitFailed";
        public const string SlurmNotFound = "XTunerSlurmNotFound";
        public const string JobFailed = "XTunerJobFailed";
        public const string JobNotFound = "XTunerJobNotFound";
        public const string JobWaitTimeout = "XTunerJobWaitTimeout";
        public const string BadDataLine = "XTunerBadDataLine";
        public const string InvalidTokenizer = "XTunerInvalidTokenizer";
        public const string SeveralConfigsOneFile = "XTunerSeveralConfigsOneFile";
        public const string SeveralRunsOneWorkDir = "XTunerSeveralRunsOneWorkDir";
        public const string BenchmarkFailed = "XTunerBenchmarkFailed";
        public const string BadDataFile = "XTunerBadDataFile";
        public const string DatasetCacheCorrupt = "XTunerDatasetCacheCorrupt";
        public const string DataPreparationFailed = "XTunerDataPreparationFailed";
        public const string OutOfHostMemory = "XTunerOutOfHostMemory";
    }
}
