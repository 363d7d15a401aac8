using System.Collections.Generic;
using System.Linq;
using XTuner.Training.Models;
using static TorchSharp.torch;

namespace XTuner.Training.Tests.Models
{
    /// <summary>One training forward/backward of a model on a seeded batch: the mean loss and every gradient.</summary>
    internal static class ModelRun
    {
        public static (Tensor InputIds, Tensor PositionIds, Tensor Labels) Batch(long vocab, long batch = 2, long length = 24, int seed = 7)
        {
            var generator = new Generator((ulong)seed);
            var inputIds = randint(0, vocab, new[] { batch, length }, ScalarType.Int64, generator: generator);
            var labels = inputIds.clone();
            labels[0, ..3] = tensor(LanguageModelLoss.IgnoreIndex);
            // Two packed documents in the second row: positions restart at the boundary.
            var positions = cat(new[] { arange(0, length, ScalarType.Int64).unsqueeze(0),
                cat(new[] { arange(0, length / 2, ScalarType.Int64), arange(0, length - length / 2, ScalarType.Int64) }).unsqueeze(0) });
            return (inputIds, positions, labels);
        }

        /// <summary>Runs forward and backward; the loss and the gradients are moved out of the caller's scope.</summary>
        public static (Tensor Loss, Dictionary<string, Tensor> Gradients) LossAndGradients(DecoderModel model, Tensor inputIds, Tensor positionIds, Tensor labels, int chunkTokens = 16)
        {
            foreach (var parameter in model.parameters())
                parameter.grad = null;
            using var scope = NewDisposeScope();
            var hidden = model.Forward(inputIds, positionIds);
            var targets = LanguageModelLoss.ShiftTargets(labels).reshape(-1);
            var loss = LanguageModelLoss.Sum(hidden.reshape(-1, hidden.shape[2]), model.LmHeadWeight, targets, model.LogitScale, chunkTokens)
                .div(targets.ne(LanguageModelLoss.IgnoreIndex).sum());
            loss.backward();
            var gradients = model.named_parameters().Where(p => p.parameter.grad is not null).ToDictionary(p => p.name, p => p.parameter.grad!.clone().MoveToOuterDisposeScope());
            return (loss.detach().MoveToOuterDisposeScope(), gradients);
        }
    }
}
