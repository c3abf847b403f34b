#!/usr/bin/env bash
# Starts N `loom serve` replicas on consecutive loopback ports and HAProxy in front of them
# (deploy/haproxy.cfg), and keeps them running until Ctrl-C.
#
#   deploy/run-replicas.sh -m MODEL.gguf [-n 2] [--port 8080] [--stats-port 8404]
#                          [--first-port 8081] [-- more `loom serve` options]
#
# Clients use http://127.0.0.1:8080/v1; the balancer's view is on :8404/stats. Each replica
# is restarted whenever it exits, so deploy/rolling-restart.sh only has to SIGTERM them one
# at a time (a new loom binary or model file is picked up on restart). Ctrl-C drains the
# replicas and lets HAProxy finish the running requests; a second Ctrl-C stops at once.
# Environment: LOOM_BIN (default: loom on PATH), LOOM_RUN_DIR (pid files, logs and the
# generated server list; default /tmp/loom-replicas).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
loom=${LOOM_BIN:-loom}
haproxy=$(command -v haproxy || echo /usr/sbin/haproxy)  # sbin is not on a user's PATH
run_dir=${LOOM_RUN_DIR:-/tmp/loom-replicas}
model= replicas=2 port=8080 stats_port=8404 first_port=8081
while [ $# -gt 0 ]; do
  case $1 in
    -m|--model) model=$2; shift 2 ;;
    -n|--replicas) replicas=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --stats-port) stats_port=$2; shift 2 ;;
    --first-port) first_port=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "usage: $0 -m MODEL [-n N] [--port P] [--stats-port P] [--first-port P] [-- loom serve options]" >&2
       exit 2 ;;
  esac
done
[ -n "$model" ] || { echo "$0: -m MODEL is required" >&2; exit 2; }
extra=("$@")

mkdir -p "$run_dir"
rm -f "$run_dir"/stopping "$run_dir"/*.pid

# The server list, the only part of the configuration that depends on N.
{
  echo "backend loom"
  for i in $(seq 1 "$replicas"); do
    echo "    server replica$i 127.0.0.1:$((first_port + i - 1))"
  done
} > "$run_dir/replicas.cfg"

# Keeps replica i running: a replica that exits (drained by rolling-restart.sh, or crashed)
# is started again on the same port, until we are stopping. setsid keeps Ctrl-C away from
# loom: the trap below sends one SIGTERM, and a second signal would cancel the drain.
supervise() {
  local i=$1 replica_port=$2
  while [ ! -e "$run_dir/stopping" ]; do
    setsid "$loom" serve -m "$model" --host 127.0.0.1 --port "$replica_port" "${extra[@]}" \
      >> "$run_dir/replica$i.log" 2>&1 &
    echo $! > "$run_dir/replica$i.pid"
    wait $! || echo "replica$i exited with $?" >&2
    [ -e "$run_dir/stopping" ] || sleep 1
  done
}

supervisors=()
for i in $(seq 1 "$replicas"); do
  supervise "$i" $((first_port + i - 1)) &
  supervisors+=($!)
done

LOOM_LB_BIND=127.0.0.1:$port LOOM_LB_STATS_BIND=127.0.0.1:$stats_port \
  setsid "$haproxy" -db -f "$here/haproxy.cfg" -f "$run_dir/replicas.cfg" \
  >> "$run_dir/haproxy.log" 2>&1 &
haproxy_pid=$!
echo "$haproxy_pid" > "$run_dir/haproxy.pid"

stop() {
  if [ -e "$run_dir/stopping" ]; then  # second Ctrl-C: cancel what is still running
    kill -TERM "$haproxy_pid" $(cat "$run_dir"/replica*.pid) 2> /dev/null || true
    return
  fi
  echo "stopping: draining the replicas (Ctrl-C again to stop at once)" >&2
  touch "$run_dir/stopping"
  # SIGUSR1 is HAProxy's soft stop: it stops listening and lets running requests finish.
  kill -USR1 "$haproxy_pid" 2> /dev/null || true
  kill -TERM $(cat "$run_dir"/replica*.pid) 2> /dev/null || true
}
trap stop INT TERM

echo "loom: http://127.0.0.1:$port/v1 ($replicas replicas from port $first_port)," \
     "balancer view: http://127.0.0.1:$stats_port/stats, logs in $run_dir" >&2
# `wait` returns early when a signal runs the trap, hence the loop.
wait_for() { while kill -0 "$1" 2> /dev/null; do wait "$1" || true; done; }
wait_for "$haproxy_pid"
[ -e "$run_dir/stopping" ] || { echo "haproxy exited (see $run_dir/haproxy.log)" >&2; stop; }
for pid in "${supervisors[@]}"; do wait_for "$pid"; done
