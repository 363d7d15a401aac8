#!/usr/bin/env bash
# expandable_segments against the default allocator: 7B at 8k and 1.1B at 8k/32k, within transformers' peaks
X="${1:?xtuner command, e.g. bash .gpu/run.sh app/xtuner.dll}"; OUT="${2:-./allocator-out}"; mkdir -p "$OUT"
TINY="model.hidden_size=2048 model.intermediate_size=5632 model.num_hidden_layers=22 model.num_attention_heads=32 model.num_key_value_heads=4"
run() { local name="$1" env="$2" config="$3" len="$4" budget="$5"; shift 5
  env $env timeout -k 5 200 $X benchmark $config --device cuda --nproc-per-node 1 --lengths $len --steps 4 --cfg-options zero_stage=0 fused_kernels=true activation_checkpointing=auto gpu_memory_budget_gib=$budget "$@" --output "$OUT/alloc.jsonl" > "$OUT/$name.txt" 2>&1
  echo "$name exit $?"; grep -E '^\| (8k|32k)|auto recomputed' "$OUT/$name.txt"; }
run 7b-8k-expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True llama2-7b-full-8k-sp1 8k 103.51
run 7b-8k-default XTUNER_NONE=1 llama2-7b-full-8k-sp1 8k 103.51
for L in "8k 19.94" "32k 36.96"; do set -- $L
  run 1b-$1-expandable PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True llama2-7b-full-8k-sp1 $1 $2 $TINY
  run 1b-$1-default XTUNER_NONE=1 llama2-7b-full-8k-sp1 $1 $2 $TINY
done
