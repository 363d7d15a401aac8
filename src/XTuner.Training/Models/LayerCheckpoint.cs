using System.Collections.Generic;
using XTuner.Core.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Models
{
    /// <summary>
    /// Activation checkpointing of one decoder layer as a custom autograd Function: forward runs the layer without
    /// autograd and keeps only its input (and the shared RoPE tables); backward recomputes the layer with autograd and
    /// back-propagates through it, which accumulates the layer's parameter gradients and yields the input gradient.
    /// With activation offload the kept input waits in host memory (<see cref="ActivationOffload"/>) between the two;
    /// with <c>keepAttention</c> the forward keeps attention's graph and the recompute does not attend again
    /// (<see cref="Attention.KeptAttention"/>). The recompute's output is only back-propagated, so the layer does not compute
    /// what only feeds it (<see cref="LayerContext.Recompute"/>).
    /// </summary>
    internal sealed class LayerCheckpoint : autograd.SingleTensorFunction<LayerCheckpoint>
    {
        private const string PlanKey = "plan";

        public override string Name => nameof(LayerCheckpoint);

        /// <summary>Runs <paramref name="layer"/> on <paramref name="hidden"/>, which must require grad.</summary>
        public static Tensor Apply(DecoderLayer layer, Tensor hidden, LayerContext context, int index = 0, ILayerParameterHooks? hooks = null,
            ActivationOffload? offload = null, bool keepAttention = false)
        {
            var rope = context.Rope;
            if (keepAttention) context = context with { Kept = new Attention.KeptAttention() };
            var output = apply(hidden, rope.Cos, rope.Sin, new Plan(layer, context, index, hooks, offload));
            AutogradOutputCache.Release<LayerCheckpoint>();
            return output;
        }

        public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
        {
            var hidden = (Tensor)vars[0];
            var cos = (Tensor)vars[1];
            var sin = (Tensor)vars[2];
            var plan = (Plan)vars[3];
            if (plan.Offload is ActivationOffload offload)
            {
                ctx.save_for_backward(new List<Tensor> { cos, sin });
                offload.ToHost(plan.Index, hidden);
            }
            else
            {
                ctx.save_for_backward(new List<Tensor> { hidden, cos, sin });
            }
            ctx.save_data(PlanKey, plan);
            return plan.Layer.Forward(hidden, plan.With(cos, sin));
        }

        public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradOutput)
        {
            using var scope = NewDisposeScope();
            var saved = ctx.get_saved_variables();
            var plan = (Plan)ctx.get_data(PlanKey);
            Tensor input, cos, sin;
            if (plan.Offload is ActivationOffload offload)
            {
                input = offload.FromHost(plan.Index, gradOutput.device).requires_grad_();
                (cos, sin) = (saved[0], saved[1]);
            }
            else
            {
                input = saved[0].detach().requires_grad_();
                (cos, sin) = (saved[1], saved[2]);
            }
            plan.Hooks?.BeforeRecompute(plan.Index);
            using (enable_grad())
            {
                Tensor output;
                using (Engine.StepPhases.Enter(Engine.StepPhases.Recompute))
                    output = plan.Layer.Forward(input, plan.With(cos, sin) with { Recompute = true });
                // Parameters are leaves of the recomputed graph, so their .grad accumulates here as in PyTorch's
                // reentrant checkpoint; only the input gradient flows on through this node.
                output.backward(new[] { gradOutput });
            }
            plan.Hooks?.AfterBackward(plan.Index);
            // The engine made this wrapper for the call; dropping it now frees the activation-sized gradient early.
            gradOutput.Dispose();
            return AutogradHandoff.Return(new[] { input.grad, null, null, null });
        }

        private sealed record Plan(DecoderLayer Layer, LayerContext Context, int Index, ILayerParameterHooks? Hooks, ActivationOffload? Offload)
        {
            // The context with the RoPE tables as autograd handed them to this node.
            public LayerContext With(Tensor cos, Tensor sin) => Context with { Rope = new RotaryTables(cos, sin, Context.Rope.Layout) };
        }
    }
}
