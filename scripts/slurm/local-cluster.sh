#!/bin/bash
# A one-node Slurm cluster on this machine for the integration test (issue 8): Debian's slurm-wlm
# (slurmctld + slurmd) with munge, configured for localhost. Needs root.
#
#   scripts/slurm/local-cluster.sh start   installs slurm-wlm and munge if missing, writes
#                                          /etc/slurm/slurm.conf (only one this script wrote before),
#                                          starts munged, slurmctld and slurmd, waits for the node
#   scripts/slurm/local-cluster.sh stop    stops the three daemons
set -euo pipefail
MARK="# archlab local test cluster (scripts/slurm/local-cluster.sh)"
CONF=/etc/slurm/slurm.conf

need_root() { [ "$(id -u)" = 0 ] || { echo "local-cluster.sh: needs root (the Slurm and munge daemons)" >&2; exit 1; }; }

install() {
  local missing=()
  command -v slurmctld >/dev/null || missing+=(slurm-wlm)
  command -v munged >/dev/null || missing+=(munge)
  if [ ${#missing[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  fi
}

configure() {
  if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
    echo "local-cluster.sh: $CONF exists and was not written by this script; not touching a real cluster's configuration" >&2
    exit 1
  fi
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 1024 ))
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
  cat > "$CONF" <<CONF
$MARK
ClusterName=archlab-local
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmdSpoolDir=/var/spool/slurmd
StateSaveLocation=/var/spool/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
  # no cgroup.conf: slurmd autodetects (Slurm 22.05 has no CgroupPlugin=disabled)
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge 2>/dev/null || true
  if ! pgrep -x munged >/dev/null; then
    if id munge >/dev/null 2>&1; then runuser -u munge -- /usr/sbin/munged; else /usr/sbin/munged --force; fi
  fi
  munge -n | unmunge >/dev/null
}

start() {
  need_root
  install
  configure
  start_munge
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd || { echo "local-cluster.sh: slurmd did not start:" >&2; tail -5 /var/log/slurm/slurmd.log >&2; exit 1; }
  local host
  host=$(hostname -s)
  for _ in $(seq 1 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    case "$state" in
      idle*|mixed*|allocated*) echo "slurm: node $host $state"; return 0 ;;
      down*|drain*) scontrol update nodename="$host" state=resume >/dev/null 2>&1 || true ;;
    esac
    sleep 1
  done
  echo "local-cluster.sh: the node did not come up; see /var/log/slurm/slurmctld.log and slurmd.log" >&2
  sinfo >&2 || true
  exit 1
}

stop() {
  need_root
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
