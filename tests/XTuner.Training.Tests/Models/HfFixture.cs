using System;
using System.IO;
using XTuner.Core.Configuration;
using XTuner.Core.Models;
using XTuner.Training.IO;
using XTuner.Training.Models;

namespace XTuner.Training.Tests.Models
{
    /// <summary>The tiny transformers checkpoints under data/hf-tiny and their reference outputs.</summary>
    internal static class HfFixture
    {
        public static string Folder(string name) => Path.Combine(AppContext.BaseDirectory, "data", "hf-tiny", name);

        public static ModelSpec Spec(string name) => HfModelConfig.Read(Folder(name));

        /// <summary>The checkpoint in <paramref name="folder"/>, loaded into a float32 CPU model.</summary>
        public static DecoderModel Load(string folder)
        {
            var model = new DecoderModel(HfModelConfig.Read(folder));
            HfCheckpoint.Load(model, folder);
            return model;
        }

        public static SafetensorsFile References(string name) => SafetensorsFile.Open(Path.Combine(Folder(name), "reference.safetensors"));
    }
}
