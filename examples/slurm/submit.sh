#!/usr/bin/env bash
# Trains a config as a SLURM job with the xtuner CLI and follows it to the end: Llama2-7B with 128k-token sequences,
# 8-way sequence parallel, on 2 nodes of 8 GPUs by default. Run on a login node:
#     PARTITION=gpu TIME=2-00:00:00 examples/slurm/submit.sh [CONFIG]
# DRY_RUN=1 prints the sbatch script (work_dir/submit.sbatch) instead of submitting it. Inside an allocation
# (salloc -N2 --ntasks-per-node=8 --gres=gpu:8) xtuner submit runs the srun step there at once instead.
set -euo pipefail

xtuner=${XTUNER:-xtuner}
config=${1:-llama2-7b-full-128k-sp8}
args=(submit "$config" --nodes "${NODES:-2}" --nproc-per-node "${GPUS_PER_NODE:-8}" --device cuda
      --time "${TIME:-1-00:00:00}" --work-dir "${WORK_DIR:-work_dirs/slurm-$(basename "$config" .yaml)}")
[ -n "${PARTITION:-}" ] && args+=(--partition "$PARTITION")
[ -n "${ACCOUNT:-}" ] && args+=(--account "$ACCOUNT")

if [ -n "${DRY_RUN:-}" ]; then
    exec $xtuner "${args[@]}" --dry-run
fi
# --wait prints each new step; the exit code says how the job ended (0 completed, 1 failed, 130 cancelled).
# Elsewhere: xtuner job JOBID (state), xtuner job JOBID --wait, xtuner job JOBID --cancel, xtuner job (all of yours).
exec $xtuner "${args[@]}" --wait
