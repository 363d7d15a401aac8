using System.Collections.Generic;
using System.IO;
using System.Linq;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models
{
    /// <summary>
    /// The architecture a config trains: the checkpoint's config.json with the config's <c>model</c> overrides, or
    /// the <c>model</c> section alone for random initialisation.
    /// </summary>
    public sealed class ResolvedModel
    {
        /// <summary>Keys that may differ from the checkpoint: they extend its context, they don't change its weights.</summary>
        private static readonly HashSet<string> Overridable = new HashSet<string>
        {
            "max_position_embeddings", "rope_theta", "rope_scaling",
        };

        private ResolvedModel(ModelSpec spec, string? checkpointDirectory, List<ConfigFinding> findings)
        {
            Spec = spec;
            CheckpointDirectory = checkpointDirectory;
            Findings = findings;
        }

        public ModelSpec Spec { get; }

        /// <summary>The checkpoint folder on this machine, when weights are loaded from one.</summary>
        public string? CheckpointDirectory { get; }

        public IReadOnlyList<ConfigFinding> Findings { get; }

        public static ResolvedModel Resolve(XTunerConfig config, string baseDirectory)
        {
            var findings = new List<ConfigFinding>();
            var schema = ConfigSchema.Root.Find("model")!.Section!;
            var own = schema.Clone(config.Model);
            var name = config.PretrainedModelNameOrPath;
            if (string.IsNullOrEmpty(name))
            {
                if (!config.RandomInit)
                    findings.Add(new ConfigFinding(FindingSeverity.Error, "pretrained_model_name_or_path",
                        "No model: set pretrained_model_name_or_path to a Hugging Face checkpoint, or random_init: true with a model section.",
                        ErrorIds.ModelNotFound));
                return new ResolvedModel(own, null, findings);
            }

            var dir = HfCheckpointLocator.Find(name!, baseDirectory);
            if (dir == null)
            {
                if (!config.RandomInit)
                {
                    var where = HfCheckpointLocator.LooksLikePath(name!)
                        ? $"folder '{PathUtil.Resolve(name!, baseDirectory)}' does not exist"
                        : $"'{name}' is not in the Hugging Face cache ({HfCheckpointLocator.HubCache()}); download it there (huggingface-cli download {name}) or give its folder";
                    findings.Add(new ConfigFinding(FindingSeverity.Warning, "pretrained_model_name_or_path",
                        $"Checkpoint not found on this machine: {where}. Training needs it; random_init: true trains the same shape without it.",
                        ErrorIds.ModelNotFound));
                }
                return new ResolvedModel(own, null, findings);
            }

            ModelSpec fromCheckpoint;
            try
            {
                fromCheckpoint = HfModelConfig.Read(dir);
            }
            catch (InvalidDataException e)
            {
                // The message names the file and what is wrong in it.
                findings.Add(new ConfigFinding(FindingSeverity.Error, "pretrained_model_name_or_path", e.Message, ErrorIds.BadModelFile));
                return new ResolvedModel(own, null, findings);
            }
            catch (IOException e)
            {
                findings.Add(new ConfigFinding(FindingSeverity.Error, "pretrained_model_name_or_path", e.Message, ErrorIds.ModelNotFound));
                return new ResolvedModel(own, null, findings);
            }

            foreach (var field in schema.Fields)
            {
                var mine = field.GetValue(config.Model);
                if (mine == null) continue;
                var theirs = field.GetValue(fromCheckpoint);
                if (!Overridable.Contains(field.Key) && theirs != null && !Equals(mine, theirs))
                {
                    findings.Add(new ConfigFinding(FindingSeverity.Error, field.Path,
                        $"model.{field.Key} is {ConfigValues.FormatScalar(mine)} but the checkpoint's config.json says {ConfigValues.FormatScalar(theirs)}; remove it from the model section or fix it.",
                        ErrorIds.ModelMismatch));
                    continue;
                }
                field.SetValue(fromCheckpoint, field.Section != null ? CloneSection(field, mine) : mine);
            }
            return new ResolvedModel(fromCheckpoint, config.RandomInit ? null : dir, findings);
        }

        private static object CloneSection(ConfigField field, object value) => field.Section!.Clone(value);

        /// <summary>Throws with every error finding, if any.</summary>
        public ResolvedModel ThrowOnError()
        {
            var errors = Findings.Where(f => f.Severity == FindingSeverity.Error).ToList();
            if (errors.Count > 0) throw new XTunerConfigException(errors);
            return this;
        }
    }
}
