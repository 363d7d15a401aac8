using System;
using System.Collections;

namespace XTuner.Core.Launch
{
    /// <summary>
    /// XTuner's launcher variables, read by <c>xtuner train</c> when it starts the ranks itself: NPROC_PER_NODE (ranks
    /// on this machine), and for several machines without SLURM, NNODES, NODE_RANK (this machine's index), ADDR and
    /// PORT (where rank 0, on node 0, hosts the rendezvous), with XTUNER_RUN_TOKEN (the run's secret, the same on every node).
    /// As in XTuner, one <c>xtuner train</c> runs on every node.
    /// </summary>
    public sealed class NodeVariables
    {
        public const string ProcessesPerNodeVariable = "NPROC_PER_NODE";
        public const string NodesVariable = "NNODES";
        public const string NodeRankVariable = "NODE_RANK";
        public const string AddressVariable = "ADDR";
        public const string PortVariable = "PORT";

        /// <summary>NPROC_PER_NODE, when set.</summary>
        public int? ProcessesPerNode { get; private set; }

        /// <summary>NNODES, when set.</summary>
        public int? Nodes { get; private set; }

        public int NodeRank { get; private set; }

        public string? Address { get; private set; }

        public int? Port { get; private set; }

        public static NodeVariables FromProcess() => FromEnvironment(Environment.GetEnvironmentVariables());

        /// <exception cref="XTunerException">A value that is not a number or contradicts another, or a multi-node
        /// launch without NODE_RANK, ADDR or PORT (<see cref="ErrorIds.InvalidRankEnvironment"/>); the message names it. A multi-node
        /// launch without XTUNER_RUN_TOKEN (<see cref="ErrorIds.RunTokenMissing"/>).</exception>
        public static NodeVariables FromEnvironment(IDictionary environment)
        {
            var env = new LaunchVariables(environment ?? throw new ArgumentNullException(nameof(environment)));
            var result = new NodeVariables
            {
                ProcessesPerNode = env.Has(ProcessesPerNodeVariable) ? env.Int(ProcessesPerNodeVariable, min: 1) : (int?)null,
                Nodes = env.Has(NodesVariable) ? env.Int(NodesVariable, min: 1) : (int?)null,
                Address = env.Get(AddressVariable),
                Port = env.Has(PortVariable) ? env.Int(PortVariable, min: 1, max: 65535) : (int?)null,
            };
            int nodes = result.Nodes ?? 1;
            if (nodes > 1)
            {
                foreach (var (name, what) in new[] { (NodeRankVariable, "this machine's index, 0 to NNODES-1"), (AddressVariable, "node 0's address"), (PortVariable, "a free port on node 0") })
                    env.Required(name, $"{what}; NNODES={nodes} starts one xtuner train on each of {nodes} machines, each with NNODES, NODE_RANK, ADDR and PORT");
            }
            if (env.Has(NodeRankVariable))
            {
                result.NodeRank = env.Int(NodeRankVariable, min: 0);
                if (result.NodeRank >= nodes)
                    throw LaunchVariables.Invalid($"{NodeRankVariable}={result.NodeRank} must be below {NodesVariable}={nodes} (nodes are numbered from 0).");
            }
            // The launchers of the nodes make no secret of their own: they must share one, or anyone who reaches PORT joins.
            if (nodes > 1 && !env.Has(RunToken.Variable))
                throw new XTunerException(ErrorIds.RunTokenMissing,
                    $"A run over {nodes} nodes needs one secret that every node's launcher knows, or anyone who can reach PORT could join it: " +
                    $"set {RunToken.Variable} to the same value on every node (e.g. export {RunToken.Variable}=$(openssl rand -hex 32) once, then pass it to each node).");
            return result;
        }

        /// <summary>Fills what the command line left open: its own options (--nproc-per-node) win.</summary>
        public void ApplyTo(LaunchOptions options)
        {
            options.GpusPerNode ??= ProcessesPerNode;
            if (Nodes is int nodes)
            {
                options.Nodes = nodes;
                options.NodeRank = NodeRank;
            }
            if (Address != null) options.MasterAddress = Address;
            if (Port is int port) options.MasterPort = port;
        }
    }
}
