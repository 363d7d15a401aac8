#!/usr/bin/env bash
# The fused CUDA kernels (fused_kernels) on a GPU machine, from the repository root:
#   examples/benchmarks/kernels.sh "<xtuner command>" OUTDIR [BENCH_HF] [PARTS]
# e.g. on the device tool's machine: examples/benchmarks/kernels.sh "bash .gpu/run.sh app/xtuner.dll" $OUT .gpu/bench_hf.py check,1b
# PARTS (comma-separated, default check,1b):
#   check: xtuner check-kernels (each kernel against its TorchSharp path, values and gradients, timed), and tiny-llama
#          in float32 on CUDA, 5 steps, fused_kernels true against false: the largest relative loss difference.
#   1b:    the TinyLlama-1.1B shape at 8k and 32k, fused_kernels false and true, and (with BENCH_HF) transformers.
#   7b:    the Llama2-7B shape at 8k and 32k the same way (a 7B process spends ~100 s before its first step).
# VARIANTS (environment, default "false true auto") picks the runs of each shape, e.g. VARIANTS="true auto".
# PHASES=1 (environment) times each step by phase as well (xtuner benchmark --phases): the tables land in OUTDIR/SHAPE-VARIANT.txt.
# BEFORE="<xtuner command>" (environment) also runs each variant with that build (an earlier commit's), first, into
# OUTDIR/SHAPE-VARIANT-before.txt and OUTDIR/bench-before.jsonl: before and after a change in the same call.
set -uo pipefail
X="$1"; OUT="${2:-./kernels-out}"; HF="${3:-}"; PARTS=",${4:-check,1b},"
mkdir -p "$OUT"
TINY="model.hidden_size=2048 model.intermediate_size=5632 model.num_hidden_layers=22 model.num_attention_heads=32 model.num_key_value_heads=4"
if [[ $PARTS == *,check,* ]]; then
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
fi
# One shape at 8k and 32k: fused_kernels false, true, and true with activation_checkpointing auto (selective
# recompute: as many layers un-recomputed as memory allows), then transformers on the same GPU.
pair() {
  local shape="$1" config="$2" limit="$3"; shift 3
  for v in ${VARIANTS:-false true auto}; do
    local opts="fused_kernels=$([ $v = false ] && echo false || echo true)"
    [ $v = auto ] && opts="$opts activation_checkpointing=auto"
    local build x suffix
    for build in ${BEFORE:+before} after; do
      if [ $build = before ]; then x="$BEFORE"; suffix=-before; else x="$X"; suffix=; fi
      timeout -k 5 "$limit" $x benchmark "$config" --device cuda --nproc-per-node 1 --lengths 8k,32k --steps 4 ${PHASES:+--phases} \
        --cfg-options zero_stage=0 $opts "$@" --output "$OUT/bench$suffix.jsonl" > "$OUT/$shape-$v$suffix.txt" 2>&1
      echo "$shape $opts${suffix:+ (before)} exit $?"; grep -E '^\| (8k|32k)|recompute|checkpoint' "$OUT/$shape-$v$suffix.txt" | head -n 6
      [ -n "${PHASES:-}" ] && sed -n '/^Where a step/,$p' "$OUT/$shape-$v$suffix.txt"
    done
  done
  if [ -n "$HF" ]; then
    timeout -k 5 "$limit" python3 "$HF" "$shape" --seqs 8192,32768 --steps 4 --json "$OUT/hf-$shape.jsonl" 2>&1 | tail -n 3
  fi
}
if [[ $PARTS == *,1b,* ]]; then pair 1b llama2-7b-full-8k-sp1 120 $TINY; fi
if [[ $PARTS == *,7b,* ]]; then pair 7b llama2-7b-full-32k-sp1 240; fi
