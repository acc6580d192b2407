#!/usr/bin/env bash
# A one-node Slurm cluster on loopback, in a directory of its own, for the Slurm tests:
# Debian's slurm-wlm and munge, run as root. Nothing outside DIR is written or read (the
# daemons get their own munge key, socket, spool and state directories, and free ports).
#
# usage: slurm_cluster.sh start DIR   writes DIR/slurm.conf, starts munged, slurmctld and
#                                     slurmd, waits until the node is idle; prints the line
#                                     `export SLURM_CONF=DIR/slurm.conf`
#        slurm_cluster.sh stop DIR    stops every daemon it started, by the process ids it
#                                     recorded in DIR/*.pid, and the jobs they ran
#        slurm_cluster.sh why-not     exit 0 if a cluster can start here, else prints why
#                                     (not root, a missing program) and exits 1
set -u
cmd=${1:-} dir=${2:-}

why_not() {
  [[ $(id -u) -eq 0 ]] || { echo "not root: slurmd must run as root to start jobs"; return 1; }
  for p in munged slurmctld slurmd sbatch squeue scontrol scancel srun; do
    command -v "$p" >/dev/null || [[ -x /usr/sbin/$p ]] ||
      { echo "'$p' is not installed (apt-get install slurm-wlm munge)"; return 1; }
  done
}

free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Ends the daemons whose ids DIR/<name>.pid hold, each if it is still the program of that
# name: SIGTERM to all at once (each takes about 2 s to exit), SIGKILL to those left after 5 s.
stop_daemons() {
  local pids=() name pid
  for name in "$@"; do
    [[ -s $dir/$name.pid ]] || continue
    pid=$(<"$dir/$name.pid")
    if [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/comm && $(</proc/"$pid"/comm) == "$name"* ]]; then
      kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
    rm -f "$dir/$name.pid"
  done
  for _ in $(seq 100); do
    local alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    ((alive)) || return 0
    sleep 0.05
  done
  for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
}

start() {
  why_not >&2 || exit 1
  mkdir -p "$dir/state" "$dir/spool" "$dir/munge" "$dir/tmp"
  chmod 700 "$dir" "$dir/munge"
  dd if=/dev/urandom bs=1 count=1024 of="$dir/munge/munge.key" status=none
  chmod 400 "$dir/munge/munge.key"
  # munged: --force because the key and socket live in a temporary directory.
  /usr/sbin/munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/socket" \
    --pid-file="$dir/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/seed" || { echo "munged did not start" >&2; exit 1; }
  local ctld_port slurmd_port
  ctld_port=$(free_port) slurmd_port=$(free_port)
  # More CPUs than the machine has (config_overrides): members and a server share 2 cores.
  cat >"$dir/slurm.conf" <<EOF
ClusterName=surgetest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
TmpFS=$dir/tmp
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SlurmdParameters=config_overrides
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
ReturnToService=2
MinJobAge=600
KillWait=2
InactiveLimit=0
NodeName=localhost CPUs=16 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  # PMIx's per-step client directories (/tmp/spmix_appdir_<uid>_<job>.<step> by default) go
  # inside this cluster's directory: every test cluster numbers its jobs from 1, and a
  # directory another cluster left behind made a step fail to launch ("File exists").
  echo "PMIxCliTmpDirBase=$dir/tmp" >"$dir/mpi.conf"
  export SLURM_CONF=$dir/slurm.conf
  /usr/sbin/slurmctld -i || { echo "slurmctld did not start (see $dir/slurmctld.log)" >&2; exit 1; }
  /usr/sbin/slurmd || { echo "slurmd did not start (see $dir/slurmd.log)" >&2; exit 1; }
  for _ in $(seq 300); do
    if [[ $(sinfo -h -N -o %t 2>/dev/null) == idle ]]; then
      echo "export SLURM_CONF=$dir/slurm.conf"
      return 0
    fi
    sleep 0.1
  done
  echo "the node did not become idle in 30 s: $(sinfo -h -N -o '%t %E' 2>&1)" >&2
  exit 1
}

stop() {
  [[ -d $dir ]] || return 0
  export SLURM_CONF=$dir/slurm.conf
  # The cluster's jobs first (a failed test may leave some), by job id, while slurmd can still
  # end their processes; then the daemons.
  if [[ -s $dir/slurmctld.pid ]]; then
    local ids
    ids=$(timeout 10 squeue -h -o %i 2>/dev/null)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      timeout 10 scancel $ids 2>/dev/null
      for _ in $(seq 50); do
        [[ -z $(timeout 10 squeue -h -o %i 2>/dev/null) ]] && break
        sleep 0.1
      done
    fi
  fi
  stop_daemons slurmd slurmctld munged
}

case $cmd in
  start) [[ -n $dir ]] || { echo "usage: $0 start DIR" >&2; exit 2; }; start ;;
  stop) [[ -n $dir ]] || { echo "usage: $0 stop DIR" >&2; exit 2; }; stop ;;
  why-not) why_not ;;
  *) echo "usage: $0 start|stop DIR | why-not" >&2; exit 2 ;;
esac
