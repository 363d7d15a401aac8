using XTuner.Training.Optim;
using Xunit;

namespace XTuner.Training.Tests.Optim
{
    public class ParameterGroupsTests
    {
        [Theory]
        [InlineData("model.layers.0.input_layernorm.weight")]
        [InlineData("model.layers.3.post_attention_layernorm.weight")]
        [InlineData("model.norm.weight")]
        [InlineData("model.layers.0.attention_norm.weight")]
        [InlineData("model.layers.0.ffn_norm.weight")]
        [InlineData("model.layers.0.self_attn.q_norm.weight")]
        [InlineData("model.layers.0.self_attn.k_proj.bias")]
        [InlineData("model.layers.0.attention.wqkv.bias")]
        public void NormsAndBiasesTakeNoDecay(string name) => Assert.True(ParameterGroups.NoDecay(name));

        [Theory]
        [InlineData("model.embed_tokens.weight")]
        [InlineData("lm_head.weight")]
        [InlineData("output.weight")]
        [InlineData("model.layers.0.self_attn.q_proj.weight")]
        [InlineData("model.layers.0.attention.wqkv.weight")]
        [InlineData("model.layers.0.mlp.down_proj.weight")]
        [InlineData("model.layers.0.feed_forward.w2.weight")]
        public void EmbeddingsAndProjectionsDecay(string name) => Assert.False(ParameterGroups.NoDecay(name));
    }
}
