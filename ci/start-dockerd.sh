#!/usr/bin/env bash
# Makes sure a Docker daemon answers on this machine, for the container-backed S3 tests.
#
#   ci/start-dockerd.sh            start one if none answers; install docker.io first if
#                                  `dockerd` is missing (needs root and Debian's packages)
#   ci/start-dockerd.sh stop       stop the daemon this script started (by the pid it recorded);
#                                  a daemon it did not start is left alone
#
# The pid of a daemon it started goes to $DRDRILL_DOCKERD_PIDFILE (default
# /tmp/drdrill-dockerd.pid) and its log to $DRDRILL_DOCKERD_LOG (default /tmp/drdrill-dockerd.log).
# A daemon that was already running is left as it is and no pid file is written, so `stop`
# never touches it.
set -euo pipefail

PIDFILE="${DRDRILL_DOCKERD_PIDFILE:-/tmp/drdrill-dockerd.pid}"
LOG="${DRDRILL_DOCKERD_LOG:-/tmp/drdrill-dockerd.log}"
WAIT_SECONDS="${DRDRILL_DOCKERD_WAIT:-30}"

answers() { docker info >/dev/null 2>&1; }

stop() {
  if [[ ! -f "$PIDFILE" ]]; then
    echo "start-dockerd: no $PIDFILE: no daemon of ours to stop"
    return 0
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  rm -f "$PIDFILE"
  if ! kill -0 "$pid" 2>/dev/null; then
    echo "start-dockerd: dockerd (pid $pid) is already gone"
    return 0
  fi
  echo "start-dockerd: stopping dockerd (pid $pid)"
  kill -TERM "$pid"
  # dockerd stops its containers (10 s grace each) and its managed containerd before exiting.
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { echo "start-dockerd: dockerd stopped"; return 0; }
    sleep 0.1
  done
  echo "start-dockerd: dockerd (pid $pid) did not stop within 30 s; sending SIGKILL" >&2
  kill -KILL "$pid" 2>/dev/null || true
}

start() {
  if answers; then
    echo "start-dockerd: a Docker daemon already answers; leaving it as it is"
    return 0
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    if [[ "$(id -u)" != 0 ]]; then
      echo "start-dockerd: dockerd is not installed and installing docker.io needs root" >&2
      return 1
    fi
    echo "start-dockerd: dockerd is missing; apt-get install -y docker.io"
    local started=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends docker.io >/dev/null
    echo "start-dockerd: docker.io installed in $((SECONDS - started)) s"
  fi
  if [[ "$(id -u)" != 0 ]]; then
    echo "start-dockerd: starting dockerd needs root" >&2
    return 1
  fi
  if [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
    echo "start-dockerd: dockerd (pid $(cat "$PIDFILE")) was started earlier but does not answer yet; waiting"
  else
    dockerd >"$LOG" 2>&1 &
    echo $! >"$PIDFILE"
    echo "start-dockerd: started dockerd (pid $!, log $LOG)"
  fi
  local tries=$((WAIT_SECONDS * 10))
  for _ in $(seq 1 "$tries"); do
    if answers; then
      echo "start-dockerd: daemon answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null))"
      return 0
    fi
    if ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      echo "start-dockerd: dockerd exited; the end of its log ($LOG):" >&2
      tail -n 20 "$LOG" >&2 || true
      rm -f "$PIDFILE"
      return 1
    fi
    sleep 0.1
  done
  echo "start-dockerd: dockerd did not answer within $WAIT_SECONDS s; the end of its log ($LOG):" >&2
  tail -n 20 "$LOG" >&2 || true
  return 1
}

case "${1:-start}" in
  start) start ;;
  stop) stop ;;
  *)
    echo "usage: $0 [start|stop]" >&2
    exit 2
    ;;
esac
