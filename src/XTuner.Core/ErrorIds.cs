using System.Collections.Generic;

namespace XTuner.Core
{
    /// <summary>
    /// Stable error identifiers. PowerShell users match them with <c>Should -Throw -ErrorId</c> and
    /// <c>$_.FullyQualifiedErrorId</c>; the CLI prints them in brackets. Never rename one. Each has its
    /// <see cref="ErrorKind"/> in <see cref="KindOf"/>, which gives the PowerShell error category.
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
        /// <summary>A rank stopped because a peer went away (its connection closed): the peer's own error is the cause.</summary>
        public const string PeerLost = "XTunerPeerLost";
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
        public const string RunTokenMissing = "XTunerRunTokenMissing";
        public const string RendezvousRefused = "XTunerRendezvousRefused";
        public const string StoreLimitExceeded = "XTunerStoreLimitExceeded";
        public const string WorkDirInUse = "XTunerWorkDirInUse";
        public const string WorkDirWriteFailed = "XTunerWorkDirWriteFailed";
        public const string NothingToResume = "XTunerNothingToResume";
        public const string OutOfHostMemory = "XTunerOutOfHostMemory";
        /// <summary>The loss or the gradient norm of a step is NaN or infinite: the run stops at that step.</summary>
        public const string NonFiniteLoss = "XTunerNonFiniteLoss";
        /// <summary>The data holds no position that counts in the loss (every label masked).</summary>
        public const string NoTargets = "XTunerNoTargets";
        /// <summary>A checkpoint file cannot be read (truncated, garbled); the message names it and an earlier checkpoint.</summary>
        public const string CheckpointCorrupt = "XTunerCheckpointCorrupt";
        /// <summary>A Hugging Face model folder's config.json or weights cannot be used (garbled, cut short, or not this model's).</summary>
        public const string BadModelFile = "XTunerBadModelFile";
        /// <summary>The GPU ran out of memory; the message names the phase, the step and the sequence length.</summary>
        public const string OutOfMemory = "XTunerOutOfMemory";
        /// <summary>A warning before launch: the planner predicts the layout needs more GPU memory than the GPU has.</summary>
        public const string PredictedOutOfMemory = "XTunerPredictedOutOfMemory";
        /// <summary>The planner found no layout that fits the GPUs, the GPU memory and the host memory it was given.</summary>
        public const string NoLayoutFits = "XTunerNoLayoutFits";
        public const string InvalidPlanAssumption = "XTunerInvalidPlanAssumption";
        /// <summary>The planner needs the model's dimensions (a model section, or a checkpoint's config.json).</summary>
        public const string PlanNeedsModel = "XTunerPlanNeedsModel";
        /// <summary>fused_kernels: true where they cannot run (CPU, or no NVRTC); the message says what to change.</summary>
        public const string FusedKernelsUnavailable = "XTunerFusedKernelsUnavailable";
        /// <summary>A fused kernel failed to build or launch; the message names the kernel and the CUDA or NVRTC error.</summary>
        public const string KernelFailed = "XTunerKernelFailed";

        /// <summary>The kind of each id. Every id above has one (a test checks); an unknown id is <see cref="ErrorKind.NotSpecified"/>.</summary>
        private static readonly Dictionary<string, ErrorKind> Kinds = new Dictionary<string, ErrorKind>
        {
            [InvalidConfig] = ErrorKind.InvalidArgument,
            [UnknownConfigKey] = ErrorKind.InvalidArgument,
            [InvalidConfigValue] = ErrorKind.InvalidArgument,
            [ConfigNotFound] = ErrorKind.ObjectNotFound,
            [ConfigFileNotFound] = ErrorKind.ObjectNotFound,
            [ConfigFileExists] = ErrorKind.ResourceExists,
            [ConfigFileWriteFailed] = ErrorKind.WriteError,
            [InvalidSequenceParallelSize] = ErrorKind.InvalidArgument,
            [InvalidWorldSize] = ErrorKind.InvalidArgument,
            [SequenceTooLong] = ErrorKind.InvalidArgument,
            [PathNotFound] = ErrorKind.ObjectNotFound,
            [ModelNotFound] = ErrorKind.ObjectNotFound,
            [ModelMismatch] = ErrorKind.InvalidArgument,
            [RankFailed] = ErrorKind.InvalidResult,
            [RendezvousTimeout] = ErrorKind.OperationTimeout,
            [RendezvousFailed] = ErrorKind.ConnectionError,
            [PeerLost] = ErrorKind.ConnectionError,
            [InvalidRankEnvironment] = ErrorKind.InvalidArgument,
            [CollectiveFailed] = ErrorKind.InvalidResult,
            [CudaUnavailable] = ErrorKind.ResourceUnavailable,
            [WorkerNotFound] = ErrorKind.ObjectNotFound,
            [RunNotFound] = ErrorKind.ObjectNotFound,
            [RunNotStoppable] = ErrorKind.InvalidOperation,
            [SlurmSubmitFailed] = ErrorKind.InvalidResult,
            [SlurmNotFound] = ErrorKind.ObjectNotFound,
            [JobFailed] = ErrorKind.InvalidResult,
            [JobNotFound] = ErrorKind.ObjectNotFound,
            [JobWaitTimeout] = ErrorKind.OperationTimeout,
            [BadDataLine] = ErrorKind.InvalidData,
            [InvalidTokenizer] = ErrorKind.InvalidData,
            [RunTokenMissing] = ErrorKind.InvalidOperation,
            [RendezvousRefused] = ErrorKind.AuthenticationError,
            [StoreLimitExceeded] = ErrorKind.LimitsExceeded,
            [WorkDirInUse] = ErrorKind.ResourceBusy,
            [WorkDirWriteFailed] = ErrorKind.WriteError,
            [NothingToResume] = ErrorKind.ObjectNotFound,
            [OutOfHostMemory] = ErrorKind.LimitsExceeded,
            [NonFiniteLoss] = ErrorKind.InvalidResult,
            [NoTargets] = ErrorKind.InvalidData,
            [CheckpointCorrupt] = ErrorKind.InvalidData,
            [BadModelFile] = ErrorKind.InvalidData,
            [OutOfMemory] = ErrorKind.LimitsExceeded,
            [PredictedOutOfMemory] = ErrorKind.LimitsExceeded,
            [NoLayoutFits] = ErrorKind.LimitsExceeded,
            [InvalidPlanAssumption] = ErrorKind.InvalidArgument,
            [PlanNeedsModel] = ErrorKind.InvalidData,
            [FusedKernelsUnavailable] = ErrorKind.ResourceUnavailable,
            [KernelFailed] = ErrorKind.InvalidResult,
            [SeveralConfigsOneFile] = ErrorKind.InvalidArgument,
            [SeveralRunsOneWorkDir] = ErrorKind.InvalidArgument,
            [BenchmarkFailed] = ErrorKind.InvalidResult,
            [BadDataFile] = ErrorKind.InvalidData,
            [DatasetCacheCorrupt] = ErrorKind.InvalidData,
            [DataPreparationFailed] = ErrorKind.InvalidResult,
        };

        /// <summary>The kind of failure <paramref name="errorId"/> names.</summary>
        public static ErrorKind KindOf(string errorId) =>
            errorId != null && Kinds.TryGetValue(errorId, out var kind) ? kind : ErrorKind.NotSpecified;
    }
}
