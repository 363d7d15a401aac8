#!/usr/bin/env bash
# The fused CUDA kernels (fused_kernels) on a GPU machine, from the repository root:
#   examples/benchmarks/kernels.sh "<xtuner command>" OUTDIR [BENCH_HF]
# e.g. on the device tool's machine: examples/benchmarks/kernels.sh "bash .gpu/run.sh app/xtuner.dll" $OUT .gpu/bench_hf.py
# 1. xtuner check-kernels: each kernel against its TorchSharp path (values, gradients) and timed.
# 2. tiny-llama in float32 on CUDA, 5 steps, fused_kernels true against false: the largest relative loss difference.
# 3. The TinyLlama-1.1B shape at 8k, fused_kernels false and true, and (with BENCH_HF) transformers on the same GPU.
set -uo pipefail
X="$1"; OUT="${2:-./kernels-out}"; HF="${3:-}"
mkdir -p "$OUT"
TINY="model.hidden_size=2048 model.intermediate_size=5632 model.num_hidden_layers=22 model.num_attention_heads=32 model.num_key_value_heads=4"
timeout -k 5 120 $X check-kernels --device cuda --json "$OUT/kernels.json" > "$OUT/check-kernels.txt" 2>&1; echo "check-kernels exit $?"; cat "$OUT/check-kernels.txt" | tail -n 20
for f in true false; do
  rm -rf "/tmp/xt-fused-$f"
  timeout -k 5 90 $X train tiny-llama --device cuda --max-steps 5 --work-dir "/tmp/xt-fused-$f" --cfg-options dtype=float32 fused_kernels=$f > "$OUT/f32-fused-$f.txt" 2>&1
  echo "f32 fused_kernels=$f exit $?"
done
python3 - "$OUT" <<'PY'
import json, sys
def losses(f): return [json.loads(l)["loss"] for l in open(f"/tmp/xt-fused-{f}/metrics.jsonl")]
try:
    a, b = losses("true"), losses("false")
    worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
    print(f"float32 CUDA losses, fused_kernels true vs false over {len(a)} steps: largest relative difference {worst:.2e}")
    open(sys.argv[1] + "/f32-fused.json", "w").write(json.dumps({"steps": len(a), "fused": a, "unfused": b, "max_relative_difference": worst}) + "\n")
except Exception as e:
    print("no comparable losses:", repr(e))
PY
for f in false true; do
  timeout -k 5 100 $X benchmark llama2-7b-full-8k-sp1 --device cuda --nproc-per-node 1 --lengths 8k --steps 4 \
    --cfg-options zero_stage=0 fused_kernels=$f $TINY --output "$OUT/bench.jsonl" > "$OUT/1b-8k-fused-$f.txt" 2>&1
  echo "1.1B 8k fused_kernels=$f exit $?"; grep -E '^\| 8k' "$OUT/1b-8k-fused-$f.txt"
done
if [ -n "$HF" ]; then
  timeout -k 5 100 python3 "$HF" 1b --seqs 8192 --steps 4 --json "$OUT/hf.jsonl" 2>&1 | tail -n 3
fi
