#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, for the Slurm test and for trying
# `sieve slurm submit` by hand:
#
#   scripts/slurm-local.sh start DIR    # installs slurm-wlm and munge if missing (root, apt)
#   export SLURM_CONF=DIR/slurm.conf
#   scripts/slurm-local.sh stop DIR     # stops the daemons it started, by pid
#
# No cgroups (proctrack/linuxproc, task/none), non-default ports, all state under DIR.
set -euo pipefail
cmd=${1:?start or stop}
dir=$(mkdir -p "${2:?scratch directory}" && cd "$2" && pwd)

stop() {
    for f in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
        [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null || true
    done
    # slurmd and slurmctld leave their pid files; wait until the processes are gone.
    for _ in $(seq 50); do
        alive=0
        for f in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
            [ -f "$f" ] && kill -0 "$(cat "$f")" 2>/dev/null && alive=1
        done
        [ "$alive" = 0 ] && break
        sleep 0.2
    done
    [ -f "$dir/munged.pid" ] && kill "$(cat "$dir/munged.pid")" 2>/dev/null || true
    rm -f "$dir"/*.pid
}

if [ "$cmd" = stop ]; then
    stop
    exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        echo "slurm-local: slurm-wlm and munge are not installed and cannot be (needs root and apt-get)" >&2
        exit 3
    fi
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: a key, its directories owned by the munge user, then the daemon.
mkdir -p /etc/munge /run/munge /var/lib/munge /var/log/munge
[ -f /etc/munge/munge.key ] || dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
chmod 400 /etc/munge/munge.key
chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    munged --force --pid-file="$dir/munged.pid" 2>/dev/null || munged --force 2>/dev/null
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi

host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool" "$dir/log"
cat > "$dir/slurm.conf" <<CONF
ClusterName=sievetest
SlurmctldHost=$host
SlurmUser=root
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/ctld.log
SlurmdLogFile=$dir/log/d.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
SchedulerParameters=sched_interval=1
NodeName=$host CPUs=$(nproc) RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
for _ in $(seq 100); do
    sinfo -h -o %T 2>/dev/null | grep -q idle && exit 0
    sleep 0.2
done
echo "slurm-local: the node did not come up; logs in $dir/log" >&2
exit 1
