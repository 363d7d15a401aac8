#!/usr/bin/env bash
# Sequence parallelism and ZeRO-3 on CUDA, checked on one GPU: several ranks share it (ranks_per_gpu), their
# collectives go through host memory, and every layout must give SP=1's losses. From the repository root:
#   examples/benchmarks/sp-on-one-gpu.sh "<xtuner command>" OUTDIR [PART]
# e.g. on the device tool's machine: examples/benchmarks/sp-on-one-gpu.sh "bash .gpu/run.sh app/xtuner.dll" $OUT tiny
# Part tiny: the tiny Llama (4 heads) at SP 1, 2, 4 x ZeRO 0, 3 x activation checkpointing on, off (ZeRO-3 needs it on),
#            in float32 and bfloat16, 5 steps each; then an SP=2 ZeRO-3 run resumed from its step-3 checkpoint equals the uninterrupted one.
# Part 1b:   a TinyLlama-1.1B shape (32 heads, 22 layers) at 4k tokens, 3 steps: bfloat16 SP 1, 2, 4 x ZeRO 0, 3 with
#            checkpointing (and SP=1 again); float32 SP 1, 2, 4 (ZeRO-3 beyond SP=1); bfloat16 without checkpointing.
# On a machine with as many GPUs as ranks, pass RANKS_PER_GPU=1 to run the same checks over NCCL; DEVICE=cpu runs the
# script itself on CPU processes (a dry run of its logic).
# Prints one line per run (largest relative loss difference against SP=1 of the same dtype and checkpointing) and
# writes OUTDIR/sp-on-one-gpu.jsonl.
set -uo pipefail
X="$1"; OUT="${2:-./sp-check-out}"; PART="${3:-tiny}"; SHARE="${RANKS_PER_GPU:-4}"; DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
train() { # name sp zero ckpt dtype steps config extra...
  local name="$1" sp="$2" zero="$3" ckpt="$4" dtype="$5" steps="$6" cfg="$7"; shift 7
  local per=$(( SHARE < sp ? SHARE : sp ))
  rm -rf "/tmp/spg-$name"
  timeout -k 10 300 $X train "$cfg" --device "$DEVICE" --nproc-per-node "$sp" --max-steps "$steps" --work-dir "/tmp/spg-$name" \
    --cfg-options sequence_parallel_size="$sp" zero_stage="$zero" activation_checkpointing="$ckpt" dtype="$dtype" \
    ranks_per_gpu="$per" save_steps=0 "$@" > "$OUT/$name.txt" 2>&1
  local code=$?; echo "$name exit $code"; [ $code -eq 0 ] || tail -n 5 "$OUT/$name.txt"
  grep -h "peak memory" /tmp/spg-$name/logs/rank*.log 2>/dev/null | sed 's/^/   /'
}
compare() { # reference name...
  python3 - "$OUT" "$@" <<'PY'
import json, sys, os
out, ref, names = sys.argv[1], sys.argv[2], sys.argv[3:]
def losses(n):
    p = f"/tmp/spg-{n}/metrics.jsonl"
    return [json.loads(l)["loss"] for l in open(p)] if os.path.exists(p) else None
base = losses(ref)
with open(out + "/sp-on-one-gpu.jsonl", "a") as f:
    for n in names:
        got = losses(n)
        if base is None or got is None or len(got) != len(base):
            print(f"{n}: no comparable losses"); rel = None
        else:
            rel = max(abs(a - b) / abs(b) for a, b in zip(got, base))
            print(f"{n} vs {ref}: largest relative loss difference {rel:.2e} over {len(base)} steps")
        f.write(json.dumps({"run": n, "reference": ref, "losses": got, "reference_losses": base, "max_relative_difference": rel}) + "\n")
PY
}
if [ "$PART" = tiny ]; then
  [ "$DEVICE" = cuda ] && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  for dtype in float32 bfloat16; do
    for ckpt in true false; do
      names=()
      for sp in 1 2 4; do for zero in 0 3; do
        [ "$ckpt" = false ] && [ "$zero" = 3 ] && continue   # ZeRO-3 gathers each layer again for its recompute: refused without
        n="tiny-$dtype-ckpt$ckpt-sp$sp-z$zero"; train "$n" $sp $zero $ckpt $dtype 5 tiny-llama; names+=("$n")
      done; done
      # Run-to-run spread of SP=1 itself, the yardstick for bfloat16.
      n="tiny-$dtype-ckpt$ckpt-sp1-z0-again"; train "$n" 1 0 $ckpt $dtype 5 tiny-llama; names+=("$n")
      compare "tiny-$dtype-ckpt$ckpt-sp1-z0" "${names[@]:1}"
    done
  done
  # Resume: an SP=2 ZeRO-3 run of 6 steps saved at step 3; a work dir holding only what existed after step 3 resumes.
  train resume-whole 2 3 true float32 6 tiny-llama save_steps=3
  rm -rf /tmp/spg-resume-part; mkdir -p /tmp/spg-resume-part/checkpoints
  cp -r /tmp/spg-resume-whole/checkpoints/step-000003 /tmp/spg-resume-part/checkpoints/
  head -n 3 /tmp/spg-resume-whole/metrics.jsonl > /tmp/spg-resume-part/metrics.jsonl
  timeout -k 10 300 $X train tiny-llama --device "$DEVICE" --nproc-per-node 2 --max-steps 6 --work-dir /tmp/spg-resume-part --resume \
    --cfg-options sequence_parallel_size=2 zero_stage=3 activation_checkpointing=true dtype=float32 ranks_per_gpu=2 save_steps=3 > "$OUT/resume.txt" 2>&1
  echo "resume exit $?"; grep -m1 "resumed from" "$OUT/resume.txt"
  compare resume-whole resume-part
fi
if [ "$PART" = 1b ]; then
  B="model.hidden_size=2048 model.intermediate_size=5632 model.num_hidden_layers=22 model.num_attention_heads=32 model.num_key_value_heads=4 max_length=4096 random_init=true dataset_format=synthetic"
  # bfloat16 with checkpointing: every layout, and SP=1 again for its run-to-run spread.
  names=()
  for sp in 1 2 4; do for zero in 0 3; do
    n="1b-bfloat16-ckpttrue-sp$sp-z$zero"; train "$n" $sp $zero true bfloat16 3 llama2-7b-full-8k-sp1 $B; names+=("$n")
  done; done
  n="1b-bfloat16-ckpttrue-sp1-z0-again"; train "$n" 1 0 true bfloat16 3 llama2-7b-full-8k-sp1 $B; names+=("$n")
  compare 1b-bfloat16-ckpttrue-sp1-z0 "${names[@]:1}"
  # float32 with checkpointing (SP=1 against SP 2 and 4 under ZeRO-3), then bfloat16 without checkpointing.
  for run in "float32 true 0 3" "bfloat16 false 0 0"; do
    set -- $run; dtype=$1 ckpt=$2 z1=$3 zn=$4; names=()
    for sp in 1 2 4; do
      zero=$([ $sp = 1 ] && echo $z1 || echo $zn)
      n="1b-$dtype-ckpt$ckpt-sp$sp-z$zero"; train "$n" $sp $zero $ckpt $dtype 3 llama2-7b-full-8k-sp1 $B; names+=("$n")
    done
    compare "${names[@]}"
  done
fi
