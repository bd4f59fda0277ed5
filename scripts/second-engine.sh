#!/usr/bin/env bash
# A second Docker engine on this machine, beside the default one, for trying placements on two
# engines: its own socket, data root, exec root and pid file; no bridge and no iptables rules
# (containers use host networking, so all traffic stays on 127.0.0.1).
#
#   scripts/second-engine.sh start          # starts it (log: $ROOT/dockerd.log), waits for it
#   scripts/second-engine.sh copy-image IMG # moves an image from the default engine: save | load
#   scripts/second-engine.sh stop           # removes its forklab containers, stops it
#
# Then DOCKER_HOST=unix://$ROOT/docker.sock points the lab (and the docker CLI) at it.
set -euo pipefail

ROOT=${FORKLAB_ENGINE2_ROOT:-/run/forklab-engine2}
DATA=${FORKLAB_ENGINE2_DATA:-/var/lib/forklab-engine2}
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/docker.pid"
# How long the engine may take to answer after start, and to exit after TERM, seconds.
WAIT_S=30

engine2() { DOCKER_HOST="unix://$SOCK" docker "$@"; }

running() { [[ -f $PIDFILE ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
  start)
    if running; then
      echo "second engine already running (pid $(cat "$PIDFILE"), unix://$SOCK)"
      exit 0
    fi
    mkdir -p "$ROOT/exec" "$DATA"
    # setsid: its own session, so a Ctrl-C in this terminal does not reach it.
    setsid dockerd \
      --host "unix://$SOCK" \
      --data-root "$DATA" \
      --exec-root "$ROOT/exec" \
      --pidfile "$PIDFILE" \
      --bridge none \
      --iptables=false \
      --ip-masq=false \
      >"$ROOT/dockerd.log" 2>&1 </dev/null &
    for ((i = 0; i < WAIT_S * 10; i++)); do
      if engine2 version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        echo "second engine up: unix://$SOCK (Docker $(engine2 version --format '{{.Server.Version}}'))"
        exit 0
      fi
      sleep 0.1
    done
    echo "second engine did not answer within ${WAIT_S} s; see $ROOT/dockerd.log" >&2
    exit 1
    ;;
  copy-image)
    image=${2:?usage: $0 copy-image IMAGE}
    docker save "$image" | engine2 load
    ;;
  stop)
    if ! running; then
      echo "second engine not running"
      exit 0
    fi
    ids=$(engine2 ps -aq --filter label=forklab.managed=true || true)
    if [[ -n $ids ]]; then
      # shellcheck disable=SC2086
      engine2 rm -f $ids >/dev/null
    fi
    pid=$(cat "$PIDFILE")
    kill -TERM "$pid"
    for ((i = 0; i < WAIT_S * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || {
        # dockerd leaves its default network namespace mounted under the exec root.
        umount "$ROOT/exec/netns/default" 2>/dev/null || true
        echo "second engine stopped (its images stay in $DATA)"
        exit 0
      }
      sleep 0.1
    done
    echo "second engine (pid $pid) did not exit within ${WAIT_S} s" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 start | copy-image IMAGE | stop" >&2
    exit 2
    ;;
esac
