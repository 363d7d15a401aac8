using System;
using XTuner.Core.Configuration;
using XTuner.Training.Models.Attention;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// A Hugging Face decoder-only language model (Llama 2/3, Yi, Mistral, Qwen2, InternLM2, Cohere) whose
    /// <c>state_dict</c> keys are the checkpoint's safetensors names. <see cref="Forward"/> stops at the final norm:
    /// training takes the loss from the hidden states in chunks (<see cref="LanguageModelLoss"/>) and never builds the
    /// full logits.
    /// </summary>
    public sealed class DecoderModel : nn.Module
    {
        private readonly DecoderBody _body;
        // The output projection (the family names it: lm_head, InternLM2's output); none when tied to the embedding.
        private readonly LinearLayer? _head;

        private readonly DecoderShape _shape;
        private readonly RotaryEmbedding _rotary;

        /// <summary>
        /// Builds the model with transformers' random initialisation (linear and embedding weights N(0, 0.02), norms 1,
        /// biases 0), drawn from torch's global generator: seed it with torch.manual_seed first. On the meta device no
        /// memory is allocated.
        /// </summary>
        /// <remarks>
        /// <c>onLayerBuilt</c> is called with each decoder layer right after it is built and initialised, before the next
        /// is allocated: ZeRO-3 keeps its shard and releases the rest, so the whole model never sits in one device's memory.
        /// </remarks>
        public DecoderModel(ModelSpec spec, Device? device = null, ScalarType dtype = ScalarType.Float32, Action<int, nn.Module>? onLayerBuilt = null) : base(nameof(DecoderModel))
        {
            if (!is_floating_point(dtype))
                throw new ArgumentException($"Model weights must be floating point, not {dtype}.", nameof(dtype));
            device ??= CPU;
            _shape = DecoderShape.From(spec);
            _rotary = new RotaryEmbedding(spec, _shape.Attention.HeadDim, _shape.RotaryLayout);
            _body = new DecoderBody(_shape, device, dtype, onLayerBuilt);
            register_module("model", _body);
            if (!_shape.TiedEmbeddings)
            {
                _head = new LinearLayer(_shape.HiddenSize, _shape.VocabSize, false, device, dtype);
                register_module(_shape.Family.OutputHeadName, _head);
            }
        }

        /// <summary>lm_head.weight [V, H], or the embedding matrix when the two are tied.</summary>
        public Tensor LmHeadWeight => _head?.Weight ?? _body.Embedding.Weight;

        /// <summary>What logits are multiplied by (Cohere's logit_scale; 1 for the others).</summary>
        public double LogitScale => _shape.LogitScale;

        /// <summary>The causal attention every layer calls; a sequence-parallel kernel replaces the local default.</summary>
        public IAttentionKernel AttentionKernel { get; set; } = new LocalCausalAttention();

        /// <summary>
        /// The layers (the first N, or all with <c>true</c>) run without keeping their activations and recomputed during
        /// backward. Applies while autograd is recording and the layer input requires grad (it does whenever the embedding
        /// or an earlier layer trains). An unresolved <c>auto</c> recomputes every layer.
        /// </summary>
        public LayerCount ActivationCheckpointing { get; set; }

        /// <summary>
        /// Of the checkpointed layers, those (the first N, or all with <c>true</c>) that rerun attention in their recompute;
        /// the others keep attention from the forward (<see cref="Attention.KeptAttention"/>). An unresolved <c>auto</c> reruns it everywhere.
        /// </summary>
        public LayerCount RecomputeAttention { get; set; } = LayerCount.All;

        /// <summary>Called around every layer (ZeRO-3 gathers and releases parameters through it); none by default.</summary>
        public ILayerParameterHooks? LayerHooks { get; set; }

        /// <summary>How many sequence tiles each MLP runs over (<c>mlp_tiles</c>); one by default.</summary>
        public MlpTiling MlpTiling { get; set; } = MlpTiling.None;

        /// <summary>Where checkpointed layers keep their inputs between forward and recompute: null keeps them on the device.</summary>
        internal ActivationOffload? ActivationOffload { get; set; }

        internal ModelArchitecture Architecture => _shape.Architecture;

        /// <summary>The state_dict name of the output projection, which a tied checkpoint may still carry.</summary>
        internal string LmHeadName => _shape.Family.OutputHeadName + ".weight";

        internal bool TiedEmbeddings => _shape.TiedEmbeddings;

        /// <summary>
        /// inputIds and positionIds [B, S] int64 (global positions: a sequence-parallel chunk passes where it starts,
        /// packed documents restart at 0) -> final-normed hidden states [B, S, H]. <paramref name="ropeSequenceLength"/>
        /// is the global sequence length for dynamic NTK RoPE, which otherwise uses max(positionIds)+1.
        /// </summary>
        public Tensor Forward(Tensor inputIds, Tensor positionIds, long? ropeSequenceLength = null, DocumentLayout? documents = null)
        {
            if (inputIds.ndim != 2 || !inputIds.shape.AsSpan().SequenceEqual(positionIds.shape))
                throw new ArgumentException($"inputIds and positionIds must both be [batch, sequence]; got [{string.Join(", ", inputIds.shape)}] and [{string.Join(", ", positionIds.shape)}].");
            using var scope = NewDisposeScope();
            var hidden = _body.Embedding.forward(inputIds);
            var context = new LayerContext(_rotary.Tables(positionIds, ropeSequenceLength, hidden.dtype), AttentionKernel, MlpTiling,
                new AttentionMask(documents, null));
            int checkpointLayers = is_grad_enabled() ? ActivationCheckpointing.Of(_body.Layers.Count, auto: _body.Layers.Count) : 0;
            int attentionLayers = RecomputeAttention.Of(checkpointLayers, auto: checkpointLayers);
            var hooks = LayerHooks;
            int index = 0;
            foreach (var layer in _body.Layers)
            {
                var window = _shape.Windows[index];
                if (window != context.Mask.Window) context = context with { Mask = context.Mask with { Window = window } };
                hooks?.BeforeForward(index);
                bool checkpointed = index < checkpointLayers && hidden.requires_grad;
                var next = checkpointed
                    ? LayerCheckpoint.Apply(layer, hidden, context, index, hooks, ActivationOffload is { } o && o.Covers(index) ? o : null,
                        keepAttention: index >= attentionLayers)
                    : layer.Forward(hidden, context);
                if (checkpointed) hooks?.AfterForward(index);
                index++;
                // Autograd keeps what backward needs; the wrapper would only pin memory until the step ends.
                hidden.Dispose();
                hidden = next;
            }
            return _body.Norm.forward(hidden).MoveToOuterDisposeScope();
        }

        /// <summary>hidden [..., H] -> logits [..., V], times <see cref="LogitScale"/> (evaluation and tests).</summary>
        public Tensor Logits(Tensor hidden)
        {
            using var scope = NewDisposeScope();
            var logits = nn.functional.linear(hidden, LmHeadWeight);
            if (LogitScale != 1.0)
                logits = logits.mul_(LogitScale);
            return logits.MoveToOuterDisposeScope();
        }
    }
}
