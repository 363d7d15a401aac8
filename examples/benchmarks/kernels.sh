#!/usr/bin/env bash
# The fused CUDA kernels (fused_kernels) on a GPU machine, from the repository root:
#   examples/benchmarks/kernels.sh "<xtuner command>" OUTDIR [BENCH_HF] [PARTS]
# e.g. on the device tool's machine: examples/benchmarks/kernels.sh "bash .gpu/run.sh app/xtuner.dll" $OUT .gpu/bench_hf.py check,1b
# PARTS (comma-separated, default check,1b):
#   check: xtuner check-kernels (each kernel against its TorchSharp path, values and gradients, timed), and tiny-llama
#          on CUDA, 5 steps, fused_kernels true against false (float32) and recompute_attention false against true
#          (float32 and bf16), and every layer recomputed against none (float32): the largest relative loss difference of each.
#   1b:    the TinyLlama-1.1B shape at 8k and 32k, fused_kernels false and true, and (with BENCH_HF) transformers.
#   7b:    the Llama2-7B shape at 8k and 32k the same way (a 7B process spends ~100 s before its first step).
# VARIANTS (environment, default "false true auto") picks the runs of each shape, e.g. VARIANTS="true auto":
#   false/true: fused_kernels off/on, every layer recomputed; auto: fused, activation_checkpointing auto in the free memory;
#   kept: fused, every layer recomputed but attention (recompute_attention false);
#   matched: fused, activation_checkpointing auto within transformers' peak at each length (gpu_memory_budget_gib from
#   BENCH_HF's run in the same call, which then runs first).
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
  # Kept attention (recompute_attention false) against rerunning it, every layer recomputed: the losses must be equal
  # (in bf16 kept attention keeps cuDNN's output alone and runs its backward directly).
  for dt in float32 bfloat16; do
    for ra in true false; do
      rm -rf "/tmp/xt-attention-$dt-$ra"
      timeout -k 5 90 $X train tiny-llama --device cuda --max-steps 5 --work-dir "/tmp/xt-attention-$dt-$ra" \
        --cfg-options dtype=$dt activation_checkpointing=true recompute_attention=$ra > "$OUT/$dt-attention-$ra.txt" 2>&1
      echo "$dt recompute_attention=$ra exit $?"
    done
  done
  # The recompute (which skips the MLP's down projection, its output unread) against no recompute at all.
  rm -rf /tmp/xt-recompute-float32-false
  timeout -k 5 90 $X train tiny-llama --device cuda --max-steps 5 --work-dir /tmp/xt-recompute-float32-false \
    --cfg-options dtype=float32 activation_checkpointing=false > "$OUT/float32-recompute-false.txt" 2>&1
  echo "float32 activation_checkpointing=false exit $?"
  python3 - "$OUT" <<'PY'
import json, sys
def losses(d): return [json.loads(l)["loss"] for l in open(f"/tmp/{d}/metrics.jsonl")]
for name, dtype, on, off in [("fused", "float32", "xt-fused-true", "xt-fused-false"),
                             ("attention", "float32", "xt-attention-float32-false", "xt-attention-float32-true"),
                             ("attention", "bfloat16", "xt-attention-bfloat16-false", "xt-attention-bfloat16-true"),
                             ("recompute", "float32", "xt-attention-float32-true", "xt-recompute-float32-false")]:
    try:
        a, b = losses(on), losses(off)
        worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
        what = {"fused": "fused_kernels true vs false", "attention": "recompute_attention false vs true",
                "recompute": "activation_checkpointing true vs false"}[name]
        print(f"{dtype} CUDA losses, {what} over {len(a)} steps: largest relative difference {worst:.2e}")
        open(f"{sys.argv[1]}/{dtype}-{name}.json", "w").write(json.dumps({"steps": len(a), on: a, off: b, "max_relative_difference": worst}) + "\n")
    except Exception as e:
        print(f"no comparable {name} losses:", repr(e))
PY
fi
# One shape at 8k and 32k: fused_kernels false, true, and true with activation_checkpointing auto (selective
# recompute: as many layers un-recomputed as memory allows), then transformers on the same GPU.
pair() {
  local shape="$1" config="$2" limit="$3"; shift 3
  if [ -n "$HF" ]; then
    timeout -k 5 "$limit" python3 "$HF" "$shape" --seqs 8192,32768 --steps 4 --json "$OUT/hf-$shape.jsonl" 2>&1 | tail -n 3
  fi
  for v in ${VARIANTS:-false true auto}; do
    local opts="fused_kernels=$([ $v = false ] && echo false || echo true)" lengths=8k,32k
    [ $v = auto ] && opts="$opts activation_checkpointing=auto"
    [ $v = kept ] && opts="$opts recompute_attention=false"
    local build x suffix runs="8k,32k"
    if [ $v = matched ]; then
      runs=$(python3 -c "import json,sys; print(' '.join(f\"{r['length']//1024}k:{r['max_memory_gib']:.2f}\" for r in map(json.loads, open(sys.argv[1])) if r.get('ok')))" "$OUT/hf-$shape.jsonl")
    fi
    for build in ${BEFORE:+before} after; do
      if [ $build = before ]; then x="$BEFORE"; suffix=-before; else x="$X"; suffix=; fi
      for run in $runs; do
        local budget=
        if [ $v = matched ]; then lengths=${run%%:*}; budget="activation_checkpointing=auto gpu_memory_budget_gib=${run#*:}"; fi
        timeout -k 5 "$limit" $x benchmark "$config" --device cuda --nproc-per-node 1 --lengths $lengths --steps 4 ${PHASES:+--phases} \
          --cfg-options zero_stage=0 $opts $budget "$@" --output "$OUT/bench$suffix.jsonl" >> "$OUT/$shape-$v$suffix.txt" 2>&1
        echo "$shape $opts $budget${suffix:+ (before)} exit $?"
      done
      grep -E '^\| (8k|32k)|recompute|checkpoint' "$OUT/$shape-$v$suffix.txt" | head -n 8
      [ -n "${PHASES:-}" ] && sed -n '/^Where a step/,$p' "$OUT/$shape-$v$suffix.txt"
    done
  done
}
if [[ $PARTS == *,1b,* ]]; then pair 1b llama2-7b-full-8k-sp1 120 $TINY; fi
if [[ $PARTS == *,7b,* ]]; then pair 7b llama2-7b-full-32k-sp1 240; fi
