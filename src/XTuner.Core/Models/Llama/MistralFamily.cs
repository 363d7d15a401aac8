using System;
using XTuner.Core.Configuration;

namespace XTuner.Core.Models.Llama
{
    /// <summary>Mistral: the Llama block under its own model_type and chat template.</summary>
    public sealed class MistralFamily : ModelFamily
    {
        public override ModelArchitecture Architecture => ModelArchitecture.Mistral;

        public override string ArchitectureClass => "MistralForCausalLM";

        public override string DefaultPromptTemplate(Func<string, bool> hasToken) => "mistral";
    }
}
