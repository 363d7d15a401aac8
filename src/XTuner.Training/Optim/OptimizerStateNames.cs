using System;
using System.Collections.Generic;
using System.Linq;
using XTuner.Training.IO;
using XTuner.Training.Zero;
using static TorchSharp.torch;

namespace XTuner.Training.Optim
{
    /// <summary>
    /// How optimizer states are named in a checkpoint (UNIT.master, UNIT.exp_avg, UNIT.exp_avg_sq, one flat float32
    /// shard each), wherever they live: a run with offload resumes one without, and the other way round.
    /// </summary>
    internal static class OptimizerStateNames
    {
        public static IReadOnlyList<KeyValuePair<string, Tensor>> Named(IReadOnlyList<ParameterUnit> units, Tensor[] master, Tensor[] expAvg, Tensor[] expAvgSq) =>
            units.SelectMany((unit, u) => new[]
            {
                new KeyValuePair<string, Tensor>(unit.Name + ".master", master[u]),
                new KeyValuePair<string, Tensor>(unit.Name + ".exp_avg", expAvg[u]),
                new KeyValuePair<string, Tensor>(unit.Name + ".exp_avg_sq", expAvgSq[u]),
            }).ToList();

        public static void Load(SafetensorsFile file, IReadOnlyList<ParameterUnit> units, Tensor[] master, Tensor[] expAvg, Tensor[] expAvgSq)
        {
            using var noGrad = no_grad();
            for (int u = 0; u < units.Count; u++)
            {
                var name = units[u].Name;
                foreach (var (key, target) in new[] { (".master", master[u]), (".exp_avg", expAvg[u]), (".exp_avg_sq", expAvgSq[u]) })
                {
                    if (!file.Tensors.TryGetValue(name + key, out var info) || info.Shape.Length != 1 || info.Shape[0] != target.shape[0])
                        throw new InvalidOperationException($"{file.Path}: optimizer state '{name}{key}' is missing or has another size; a checkpoint resumes only with the same world size and zero_stage.");
                    using var loaded = file.Read(name + key);
                    target.copy_(loaded);
                }
            }
        }
    }
}
