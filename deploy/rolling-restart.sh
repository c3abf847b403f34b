#!/usr/bin/env bash
# Restarts the replicas of deploy/run-replicas.sh one at a time, without failing a request:
# SIGTERM makes a replica drain (/health turns 503, so HAProxy stops sending it requests;
# a request that still reaches it gets a 503 that HAProxy retries on another replica; the
# running ones finish), its supervisor starts it again once it has exited, and the next one
# waits until HAProxy sees this one UP again, so at most one replica is away at a time.
#
#   deploy/rolling-restart.sh [--stats-port 8404] [--timeout 120]
#
# Environment: LOOM_RUN_DIR as for run-replicas.sh (default /tmp/loom-replicas). Needs curl.
set -euo pipefail

run_dir=${LOOM_RUN_DIR:-/tmp/loom-replicas}
stats_port=8404 timeout=120
while [ $# -gt 0 ]; do
  case $1 in
    --stats-port) stats_port=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "usage: $0 [--stats-port P] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
done

# The status HAProxy gives a server (UP, DOWN, "UP 1/2" while it changes, ...), from the
# CSV of the stats page: field 2 is the server's name, field 18 its status.
balancer_status() {
  curl -fsS "http://127.0.0.1:$stats_port/stats;csv" | awk -F, -v s="$1" '$1 == "loom" && $2 == s { print $18 }'
}

# Runs "$@" every 0.2 s until it succeeds, or fails after $timeout seconds.
wait_until() {
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || { echo "rolling-restart: timed out waiting for: $*" >&2; return 1; }
    sleep 0.2
  done
}
is_up() { [ "$(balancer_status "$1")" = UP ]; }
# Asked directly too: a quick restart can go unnoticed by the balancer's health checks.
is_ready() { curl -fsS "http://127.0.0.1:$1/health" > /dev/null 2>&1; }
is_gone() { ! kill -0 "$1" 2> /dev/null; }
has_new_pid() { [ "$(cat "$run_dir/$1.pid")" != "$2" ]; }

for pid_file in "$run_dir"/replica*.pid; do
  name=$(basename "$pid_file" .pid)
  old_pid=$(cat "$pid_file")
  port=$(awk -v s="$name" '$2 == s { split($3, a, ":"); print a[2] }' "$run_dir/replicas.cfg")
  wait_until is_up "$name"  # never take away the last healthy replica
  echo "rolling-restart: draining $name (pid $old_pid)" >&2
  kill -TERM "$old_pid"
  wait_until is_gone "$old_pid"
  wait_until has_new_pid "$name" "$old_pid"
  wait_until is_ready "$port"
  wait_until is_up "$name"
  echo "rolling-restart: $name is back (pid $(cat "$pid_file"))" >&2
done
