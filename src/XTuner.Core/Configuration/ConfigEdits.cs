namespace XTuner.Core.Configuration
{
    /// <summary>Edits that change several keys together, shared by the cmdlets and the CLI.</summary>
    public static class ConfigEdits
    {
        /// <summary>
        /// Points a config (often a catalogue template) at a checkpoint: weights are loaded, the architecture and
        /// tokenizer come from the checkpoint, and only the template's RoPE scaling (its context extension) is kept.
        /// </summary>
        public static void UseCheckpoint(XTunerConfig config, string nameOrPath)
        {
            config.PretrainedModelNameOrPath = nameOrPath;
            config.RandomInit = false;
            config.Model = new ModelSpec { RopeScaling = config.Model.RopeScaling };
            config.Tokenizer = null;
        }
    }
}
