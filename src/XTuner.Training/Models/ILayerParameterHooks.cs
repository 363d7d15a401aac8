namespace XTuner.Training.Models
{
    /// <summary>
    /// Called around each decoder layer so that its parameters need only exist while it runs (ZeRO-3): gathered before
    /// the forward and again before a checkpointed layer's recompute, released after, and its gradients handed on as
    /// soon as its backward is done. Every rank calls them in the same order, so collectives inside them line up.
    /// </summary>
    public interface ILayerParameterHooks
    {
        /// <summary>Layer <paramref name="layer"/> is about to run forward.</summary>
        void BeforeForward(int layer);

        /// <summary>A checkpointed layer's forward is done; nothing of it is needed until its recompute.</summary>
        void AfterForward(int layer);

        /// <summary>A checkpointed layer is about to be recomputed for its backward.</summary>
        void BeforeRecompute(int layer);

        /// <summary>A checkpointed layer's backward is done: its parameter gradients for this micro-batch are complete.</summary>
        void AfterBackward(int layer);
    }
}
