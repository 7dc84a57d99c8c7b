#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the sweep tests and for trying the Slurm backend:
#   eval "$(scripts/slurm_local.sh start)"   # installs slurmctld/slurmd/munge if missing, starts them
#   scripts/slurm_local.sh stop              # cancels the jobs and stops the daemons
#   scripts/slurm_local.sh status            # prints whether it runs (exit 0) or not (exit 1)
# Everything lives under a state directory (default: <tree>/.cache/slurm; SLURM_LOCAL_DIR moves it):
# slurm.conf, a munge key and socket, spool, logs, pid files. The daemons listen on 127.0.0.1 only,
# on ports picked free at start (so several trees on one machine each get their own cluster). There
# is no systemd here: the daemons are started directly. Needs root, or sudo without a password.
# Settings for tests: SLURM_LOCAL_MAX_ARRAY_SIZE (default 1001), SLURM_LOCAL_CPUS (default: nproc,
# at least 4, so a few tasks run at once even on two cores).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
state="${SLURM_LOCAL_DIR:-$here/.cache/slurm}"
conf="$state/slurm.conf"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if sudo -n true 2>/dev/null; then sudo="sudo -n"; else
    echo "slurm_local.sh: needs root or password-less sudo (slurmd must start jobs as their user)" >&2
    exit 3
  fi
fi

say() { echo "$@" >&2; }

install_packages() {
  local missing=()
  for p in slurmctld slurmd slurm-client munge; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "· installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # Debian's maintainer scripts try to start the services; there is no init system to do that here.
  printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
  $sudo chmod +x /usr/sbin/policy-rc.d
  $sudo apt-get update -q >/dev/null
  $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  $sudo rm -f /usr/sbin/policy-rc.d
}

free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

print_env() {
  echo "export SLURM_CONF=$conf"
}

running() {
  [ -f "$conf" ] && pid_alive "$state/slurmctld.pid" && pid_alive "$state/slurmd.pid" && pid_alive "$state/munged.pid"
}

start() {
  if running && SLURM_CONF="$conf" scontrol ping 2>/dev/null | grep -q UP; then
    print_env
    return 0
  fi
  stop_daemons
  install_packages
  mkdir -p "$state"/{spool,ctld,munge,log}
  chmod 700 "$state/munge"
  # munged refuses keys that others can read, and runs as the key's owner (root here).
  if [ ! -f "$state/munge/munge.key" ]; then
    head -c 1024 /dev/urandom > "$state/munge/munge.key"
    chmod 400 "$state/munge/munge.key"
  fi
  local ctld_port slurmd_port cpus mem
  ctld_port=$(free_port)
  slurmd_port=$(free_port)
  cpus=${SLURM_LOCAL_CPUS:-$(( $(nproc) > 4 ? $(nproc) : 4 ))}
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 / 2 ))
  cat > "$conf" <<CONF
# Written by scripts/slurm_local.sh: a one-node test cluster bound to 127.0.0.1.
ClusterName=codedag-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
# cred_expire is also how long a requeued job waits before it may start again (default 120 s): a
# local cluster has no slow nodes to wait for, and requeue after preemption is what the tests check.
AuthInfo=socket=$state/munge/munge.socket,cred_expire=10
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=1
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
SlurmdParameters=config_overrides
MaxArraySize=${SLURM_LOCAL_MAX_ARRAY_SIZE:-1001}
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
CONF
  $sudo munged --socket="$state/munge/munge.socket" --key-file="$state/munge/munge.key" \
      --pid-file="$state/munged.pid" --log-file="$state/log/munged.log" --seed-file="$state/munge/munge.seed" \
      --force >/dev/null 2>&1
  # -c: a fresh cluster (no jobs restored from a previous start; job ids start again, which the
  # sweep does not mind: cells are found by run id, never by job id).
  SLURM_CONF="$conf" $sudo slurmctld -f "$conf" -c
  SLURM_CONF="$conf" $sudo slurmd -f "$conf"
  # Idle within a fraction of a second; give it up to 30 s on a loaded machine.
  for _ in $(seq 300); do
    if SLURM_CONF="$conf" sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      print_env
      say "✓ local Slurm cluster up (state in $state)"
      return 0
    fi
    sleep 0.1
  done
  say "✗ the local Slurm cluster did not come up; logs in $state/log:"
  tail -n 5 "$state"/log/*.log >&2 || true
  exit 1
}

stop_daemons() {
  if [ -f "$conf" ] && pid_alive "$state/slurmctld.pid"; then
    SLURM_CONF="$conf" scancel --quiet --user="$(id -un)" 2>/dev/null || true
  fi
  for d in slurmd slurmctld munged; do
    if pid_alive "$state/$d.pid"; then
      local pid
      pid=$(cat "$state/$d.pid")
      $sudo kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -0 "$pid" 2>/dev/null && $sudo kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$state/$d.pid"
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop_daemons; say "✓ local Slurm cluster stopped" ;;
  status) if running; then say "✓ running ($conf)"; print_env; else say "· not running"; exit 1; fi ;;
  env) print_env ;;
  *) say "usage: $0 start|stop|status|env"; exit 2 ;;
esac
