#!/usr/bin/env bash
# GPU measurements behind the README's benchmark table. Run from the repository root on a CUDA machine:
#   examples/benchmarks/gpu.sh "<xtuner command>" OUTDIR
# e.g. examples/benchmarks/gpu.sh xtuner ./bench-out, or on the device tool's machine
#   examples/benchmarks/gpu.sh "bash .gpu/run.sh app/xtuner.dll" $OUT
# It checks NCCL (one rank per visible GPU is the launcher's job; here one rank), trains the tiny model on CUDA, checks
# that TensorBoard and transformers read what xtuner wrote (when Python has them), then benchmarks Llama2-7B-shaped
# training (random weights, synthetic tokens, bf16, activation checkpointing) at 8k and 32k tokens and searches the
# longest sequence that fits on one GPU.
set -uo pipefail
X="$1"
OUT="${2:-./bench-out}"
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$X --version
$X check-collectives --device cuda --timeout 120 > "$OUT/nccl.txt" 2>&1; echo "check-collectives exit $?"; tail -n 3 "$OUT/nccl.txt"
rm -rf /tmp/xt-tiny
$X train tiny-llama --device cuda --max-steps 20 --work-dir /tmp/xt-tiny --cfg-options dtype=float32 > "$OUT/tiny.txt" 2>&1; echo "tiny exit $?"; tail -n 3 "$OUT/tiny.txt"
python3 - <<'PY' 2>&1 | tee "$OUT/readers.txt"
try:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator("/tmp/xt-tiny/tensorboard"); acc.Reload()
    print("tensorboard scalars:", sorted(acc.Tags()["scalars"]), "loss:", [round(e.value, 4) for e in acc.Scalars("train/loss")][:5])
except Exception as e:
    print("tensorboard check failed:", repr(e))
try:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model = AutoModelForCausalLM.from_pretrained("/tmp/xt-tiny/hf"); tok = AutoTokenizer.from_pretrained("/tmp/xt-tiny/hf")
    ids = tok("### Instruction:\nWhat is the capital of France?\n\n### Response:\n", return_tensors="pt").input_ids
    out = model.generate(ids, max_new_tokens=24, do_sample=False)
    print("transformers:", type(model).__name__, "params", sum(p.numel() for p in model.parameters()), "generates:", repr(tok.decode(out[0][ids.shape[1]:])))
except Exception as e:
    print("transformers check failed:", repr(e))
PY
$X benchmark llama2-7b-full-32k-sp1 --device cuda --nproc-per-node 1 --lengths 8k,32k --steps 5 \
    --cfg-options zero_stage=0 --output "$OUT/bench.jsonl" 2>&1 | tee "$OUT/bench.txt"
$X benchmark llama2-7b-full-32k-sp1 --device cuda --nproc-per-node 1 --lengths 48k --steps 3 --find-max-length --granularity 16k \
    --cfg-options zero_stage=0 --output "$OUT/bench.jsonl" 2>&1 | tee "$OUT/maxlen.txt"
