#!/usr/bin/env bash
# Installs and starts a one-node SLURM cluster on loopback (slurmctld + slurmd + munge, no systemd), for the tests
# that submit real jobs. Idempotent: a cluster that already answers is left running; run as root (CI is).
# Stop it with .ci/slurm-stop.sh. Facts behind each step: ../shared/SLURM.md.
set -euo pipefail

conf=/etc/slurm/slurm.conf
log() { echo "slurm-setup: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    echo "slurm-setup: run as root (it installs packages and starts daemons)" >&2
    exit 1
fi

missing=()
for pair in slurmctld:/usr/sbin/slurmctld slurmd:/usr/sbin/slurmd slurm-client:/usr/bin/sbatch munge:/usr/sbin/munged; do
    [ -x "${pair#*:}" ] || missing+=("${pair%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: the key comes with the package; its daemon authenticates every SLURM RPC.
[ -f /etc/munge/munge.key ] || runuser -u munge -- mungekey -c
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n >/dev/null 2>&1; then
    log "starting munged"
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
    munge -n >/dev/null
fi

# slurm.conf sized to this machine. Rewritten only when it changes, and then the daemons are restarted to read it.
cpus=$(nproc)
memory=$(/usr/sbin/slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
[ -n "$memory" ] || { echo "slurm-setup: slurmd -C printed no RealMemory" >&2; exit 1; }
wanted=$(cat <<EOF
# Written by .ci/slurm-setup.sh: a one-node cluster on loopback for tests.
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
# A requeued job may start again once its credentials expired: 10 s instead of the default 120 keeps requeue tests short.
AuthInfo=cred_expire=10
CredType=cred/munge
MailProg=/bin/true
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
EnforcePartLimits=ALL
SchedulerParameters=batch_sched_delay=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
)
changed=0
if [ ! -f "$conf" ] || [ "$(cat "$conf")" != "$wanted" ]; then
    install -d /etc/slurm
    printf '%s\n' "$wanted" > "$conf"
    changed=1
    log "wrote $conf (CPUs=$cpus RealMemory=$memory)"
fi
install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

if [ "$changed" = 1 ]; then
    for pidfile in /run/slurmd.pid /run/slurmctld.pid; do
        if alive "$pidfile"; then
            pid=$(cat "$pidfile")
            kill "$pid"
            while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
        fi
        rm -f "$pidfile"
    done
fi
if ! alive /run/slurmctld.pid; then
    rm -f /run/slurmctld.pid
    log "starting slurmctld"
    /usr/sbin/slurmctld
fi
if ! alive /run/slurmd.pid; then
    rm -f /run/slurmd.pid
    log "starting slurmd"
    /usr/sbin/slurmd -N localhost
fi

state=""
for _ in $(seq 300); do
    state=$(sinfo -h -n localhost -o %T 2>/dev/null || true)
    case "$state" in
        idle|mixed|allocated) break ;;
        # A node left down or drained by an earlier run (ReturnToService covers most cases, not an admin drain).
        down*|drain*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.1
done
case "$state" in
    idle|mixed|allocated) log "node localhost is $state; partition debug is up" ;;
    *)
        echo "slurm-setup: node localhost did not become idle (state '${state}'); logs: /var/log/slurm/" >&2
        tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
        exit 1
        ;;
esac
