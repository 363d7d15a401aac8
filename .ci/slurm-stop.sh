#!/usr/bin/env bash
# Stops the one-node SLURM cluster that .ci/slurm-setup.sh started (slurmd, slurmctld, munged), leaving the packages
# and the configuration in place. Stale pid files are removed: one left behind breaks package removal.
set -euo pipefail

for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        echo "slurm-stop: stopping $(basename "$pidfile" .pid) ($pid)"
        kill "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then kill -9 "$pid"; fi
    fi
    rm -f "$pidfile"
done
