#!/usr/bin/env bash
# GPU measurements for long sequences on one GPU (offload_optimizer, offload_activations, mlp_tiles). From the
# repository root on a CUDA machine:
#   examples/benchmarks/long-context.sh "<xtuner command>" OUTDIR PART
# e.g. on the device tool's machine: examples/benchmarks/long-context.sh "bash .gpu/run.sh app/xtuner.dll" $OUT a
# Part a: float32 losses with and without offload on CUDA; Llama2-7B at 8k and 32k with every option off (as before).
# Part b: the host AdamW timed; Llama2-7B with offload_optimizer at 32k (what it costs).
# Part 7b: Llama2-7B with offload_optimizer at 256k and 128k (tiled MLP; at 256k as many layers' checkpoints in
#         host memory as fit beside the optimizer states: the host has 128 GiB). 64k trains without offload (gpu.sh).
# Part tiny: TinyLlama-1.1B at 512k with every option.
# Part window: the 1.1B shape as a Mistral with a 4096-token sliding window at 128k (memory linear in the length).
# Part varlen: TinyLlama-1.1B at 32k over packed synthetic documents of ~300 tokens (Alpaca-sized): full causal
#         attention (use_varlen_attn=false) against documents kept apart (true), 3 steps each.
# A 7B process spends about 100 s before its first step (random init, host states): the limits allow for it.
# Every run appends a JSON line to OUTDIR/bench.jsonl (parameters, device, memory options, per-rank peaks).
set -uo pipefail
X="$1"; OUT="${2:-./bench-out}"; PART="${3:-a}"
mkdir -p "$OUT"
# Each run in its own time limit; whatever it left running is stopped before the next one measures.
run() {
  local name="$1" limit="$2"; shift 2; echo "== $name"
  timeout -k 10 "$limit" $X "$@" > "$OUT/$name.txt" 2>&1; echo "exit $?"
  pkill -f 'xtuner.dll (train|benchmark)' 2>/dev/null; sleep 1
  grep -E '^\| |Longest|error' "$OUT/$name.txt" | tail -n 12
}
B7="llama2-7b-full-32k-sp1"
TINY="model.hidden_size=2048 model.intermediate_size=5632 model.num_hidden_layers=22 model.num_attention_heads=32 model.num_key_value_heads=4"
if [ "$PART" = a ]; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; nproc; free -g | head -2
  for o in false true; do
    rm -rf "/tmp/xt-f32-$o"
    timeout 120 $X train tiny-llama --device cuda --max-steps 10 --work-dir "/tmp/xt-f32-$o" --cfg-options dtype=float32 \
      activation_checkpointing=true offload_optimizer=$o offload_activations=$o mlp_tiles=$([ $o = true ] && echo 3 || echo 1) > "$OUT/f32-offload-$o.txt" 2>&1
    echo "f32 offload=$o exit $?"
  done
  python3 - "$OUT" <<'PY'
import json, sys
def losses(o): return [json.loads(l)["loss"] for l in open(f"/tmp/xt-f32-{o}/metrics.jsonl")]
a, b = losses("false"), losses("true")
worst = max(abs(x - y) / abs(y) for x, y in zip(a, b))
print(f"float32 CUDA losses, offload off vs on over {len(a)} steps: largest relative difference {worst:.2e}")
open(sys.argv[1] + "/f32-offload.json", "w").write(json.dumps({"steps": len(a), "off": a, "on": b, "max_relative_difference": worst}) + "\n")
PY
  run 7b-off 200 benchmark $B7 --device cuda --nproc-per-node 1 --lengths 8k,32k --steps 3 --cfg-options zero_stage=0 --output "$OUT/bench.jsonl"
fi
if [ "$PART" = b ]; then
  run adamw 60 bench-adamw --elements 1024m --repeats 3
  run 7b-offload-32k 200 benchmark $B7 --device cuda --nproc-per-node 1 --lengths 32k --steps 3 --cfg-options zero_stage=0 offload_optimizer=true --output "$OUT/bench.jsonl"
fi
if [ "$PART" = 7b ]; then
  run 7b-256k 340 benchmark $B7 --device cuda --nproc-per-node 1 --lengths 256k --steps 1 --cfg-options zero_stage=0 offload_optimizer=true offload_activations=auto --output "$OUT/bench.jsonl"
  run 7b-offload-128k 210 benchmark $B7 --device cuda --nproc-per-node 1 --lengths 128k --steps 1 --cfg-options zero_stage=0 offload_optimizer=true --output "$OUT/bench.jsonl"
fi
if [ "$PART" = tiny ]; then
  run tiny-512k 480 benchmark llama2-7b-full-8k-sp1 --device cuda --nproc-per-node 1 --lengths 512k --steps 1 \
    --cfg-options zero_stage=0 offload_optimizer=true offload_activations=true $TINY --output "$OUT/bench.jsonl"
fi
if [ "$PART" = varlen ]; then
  for v in false true; do
    run tiny-32k-varlen-$v 150 benchmark llama2-7b-full-8k-sp1 --device cuda --nproc-per-node 1 --lengths 32k --steps 3 \
      --cfg-options zero_stage=0 synthetic_document_length=300 use_varlen_attn=$v $TINY --output "$OUT/bench.jsonl"
  done
fi
if [ "$PART" = window ]; then
  run tiny-128k-window 150 benchmark llama2-7b-full-8k-sp1 --device cuda --nproc-per-node 1 --lengths 128k --steps 2 \
    --cfg-options zero_stage=0 model.architecture=mistral model.sliding_window=4096 $TINY --output "$OUT/bench.jsonl"
fi
