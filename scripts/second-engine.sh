#!/usr/bin/env bash
# A second Docker engine on this machine, beside the default one, for trying placements on two
# engines: its own socket, data root, exec root and pid file; no bridge and no iptables rules
# (containers use host networking, so all traffic stays on 127.0.0.1).
#
#   scripts/second-engine.sh start          # starts it (log: $ROOT/dockerd.log), waits for it
#   scripts/second-engine.sh start --until-gone PID [--remove-dirs]
#                                           # the same, and a watcher stops it once PID is gone
#   scripts/second-engine.sh copy-image IMG # moves an image from the default engine: save | load
#   scripts/second-engine.sh stop           # removes its forklab containers, stops it (and its
#                                           # watcher)
#
# Then DOCKER_HOST=unix://$ROOT/docker.sock points the lab (and the docker CLI) at it.
#
# --until-gone PID (or FORKLAB_ENGINE2_UNTIL_GONE=PID): like testcontainers' reaper, a small
# watcher in its own session (log: $ROOT/watcher.log, pid: $ROOT/watcher.pid) checks every second
# that PID is alive; once it is gone (killed, even with SIGKILL), the watcher does what `stop`
# does and exits. It exits by itself when the engine stops otherwise, and `stop` ends it too.
# With --remove-dirs the watcher then also deletes $ROOT and $DATA (for temporary engines).
#
# FORKLAB_ENGINE2_TCP=127.0.0.1:PORT: the engine also listens on tcp://127.0.0.1:PORT, TLS
# verified both ways (dockerd --tlsverify). The certificates are made with openssl on first start,
# in $ROOT/tls: ca.pem, cert.pem and key.pem for clients (docker --tlsverify --tlscacert ca.pem
# --tlscert cert.pem --tlskey key.pem, or the lab's tls: { ca, cert, key }); server-*.pem for
# dockerd.
set -euo pipefail

ROOT=${FORKLAB_ENGINE2_ROOT:-/run/forklab-engine2}
DATA=${FORKLAB_ENGINE2_DATA:-/var/lib/forklab-engine2}
SOCK="$ROOT/docker.sock"
PIDFILE="$ROOT/docker.pid"
WATCHPID="$ROOT/watcher.pid"
TLSDIR="$ROOT/tls"
SELF=$(readlink -f "${BASH_SOURCE[0]}")
# How long the engine may take to answer after start, and to exit after TERM, seconds.
WAIT_S=30

engine2() { DOCKER_HOST="unix://$SOCK" docker "$@"; }

# Whether pid $1 is alive: there and not a zombie (an exited dockerd whose new parent, after the
# `start` that launched it exited, has not reaped it yet).
alive() {
  local stat
  kill -0 "$1" 2>/dev/null || return 1
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  stat=${stat##*) }
  [[ ${stat:0:1} != Z ]]
}

running() { [[ -f $PIDFILE ]] && alive "$(cat "$PIDFILE")"; }

# The certificates of FORKLAB_ENGINE2_TCP's listener for IP $1 (kept when they are there).
make_tls() {
  local ip=$1
  [[ -f $TLSDIR/ca.pem && -f $TLSDIR/server-cert.pem && -f $TLSDIR/cert.pem ]] && return 0
  mkdir -p "$TLSDIR"
  (
    cd "$TLSDIR"
    umask 077
    openssl req -x509 -newkey rsa:2048 -nodes -days 7 -subj /CN=forklab-engine2-ca \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
      -keyout ca-key.pem -out ca.pem 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$ip" \
      -keyout server-key.pem -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\n' "$ip" >server.ext
    openssl x509 -req -days 7 -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl req -new -newkey rsa:2048 -nodes -subj /CN=forklab-client \
      -keyout key.pem -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -days 7 -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial \
      -extfile client.ext -out cert.pem 2>/dev/null
    rm -f server.csr client.csr server.ext client.ext
    chmod 644 ca.pem cert.pem server-cert.pem
  )
}

# What `stop` does to engine pid $1: remove its forklab containers, TERM it, wait for it to exit,
# unmount its network namespace. Returns 1 if it did not exit within WAIT_S.
stop_engine() {
  local pid=$1 ids
  ids=$(engine2 ps -aq --filter label=forklab.managed=true 2>/dev/null || true)
  if [[ -n $ids ]]; then
    # shellcheck disable=SC2086
    engine2 rm -f $ids >/dev/null || true
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < WAIT_S * 10; i++)); do
    if ! alive "$pid"; then
      # dockerd leaves its default network namespace mounted under the exec root.
      umount "$ROOT/exec/netns/default" 2>/dev/null || true
      return 0
    fi
    sleep 0.1
  done
  return 1
}

# Ends the watcher of this engine, if there is one (it is the leader of its own process group:
# the group goes, its `sleep` included).
stop_watcher() {
  [[ -f $WATCHPID ]] || return 0
  local w
  w=$(cat "$WATCHPID")
  if [[ -n $w ]] && alive "$w" && [[ $(ps -o pgid= -p "$w" | tr -d ' ') == "$w" ]]; then
    kill -TERM -- "-$w" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      alive "$w" || break
      sleep 0.1
    done
  fi
  rm -f "$WATCHPID"
}

case "${1:-}" in
  start)
    shift
    owner=${FORKLAB_ENGINE2_UNTIL_GONE:-}
    remove_dirs=0
    while (($# > 0)); do
      case "$1" in
        --until-gone)
          owner=${2:?usage: $0 start --until-gone PID}
          shift 2
          ;;
        --remove-dirs)
          remove_dirs=1
          shift
          ;;
        *)
          echo "usage: $0 start [--until-gone PID [--remove-dirs]]" >&2
          exit 2
          ;;
      esac
    done
    if [[ -n $owner ]] && ! [[ $owner =~ ^[1-9][0-9]*$ ]]; then
      echo "--until-gone needs a process id, got \"$owner\"" >&2
      exit 2
    fi
    if [[ -n $owner ]] && ! alive "$owner"; then
      echo "--until-gone $owner: no such process; not starting an engine that would stop at once" >&2
      exit 2
    fi
    if ((remove_dirs)) && [[ -z $owner ]]; then
      echo "--remove-dirs goes with --until-gone PID" >&2
      exit 2
    fi
    if running; then
      echo "second engine already running (pid $(cat "$PIDFILE"), unix://$SOCK)"
      [[ -n $owner ]] && echo "(not started here: --until-gone $owner does not apply to it)"
      exit 0
    fi
    tcp=()
    if [[ -n ${FORKLAB_ENGINE2_TCP:-} ]]; then
      if ! [[ $FORKLAB_ENGINE2_TCP =~ ^([0-9]+\.[0-9]+\.[0-9]+\.[0-9]+):([0-9]+)$ ]]; then
        echo "FORKLAB_ENGINE2_TCP must be IP:PORT, e.g. 127.0.0.1:2376, got \"$FORKLAB_ENGINE2_TCP\"" >&2
        exit 2
      fi
      make_tls "${BASH_REMATCH[1]}"
      tcp=(--host "tcp://$FORKLAB_ENGINE2_TCP" --tlsverify
        --tlscacert "$TLSDIR/ca.pem" --tlscert "$TLSDIR/server-cert.pem"
        --tlskey "$TLSDIR/server-key.pem")
    fi
    mkdir -p "$ROOT/exec" "$DATA"
    # setsid: its own session, so a Ctrl-C in this terminal does not reach it.
    setsid dockerd \
      --host "unix://$SOCK" \
      "${tcp[@]}" \
      --data-root "$DATA" \
      --exec-root "$ROOT/exec" \
      --pidfile "$PIDFILE" \
      --bridge none \
      --iptables=false \
      --ip-masq=false \
      >"$ROOT/dockerd.log" 2>&1 </dev/null &
    launched=$!
    if [[ -n $owner ]]; then
      # Started at once, so that the owner dying while the engine comes up is covered too. Its
      # own session, no terminal and no pipe of the caller's: it outlives whoever started it.
      rm -f "$WATCHPID"
      FORKLAB_ENGINE2_ROOT=$ROOT FORKLAB_ENGINE2_DATA=$DATA \
        setsid bash "$SELF" __watch "$owner" "$launched" "$remove_dirs" \
        >>"$ROOT/watcher.log" 2>&1 </dev/null &
      # Its pid file is there before this returns (a `stop` right after finds it).
      for ((i = 0; i < 50; i++)); do
        [[ -s $WATCHPID ]] && break
        sleep 0.1
      done
    fi
    for ((i = 0; i < WAIT_S * 10; i++)); do
      if engine2 version --format '{{.Server.Version}}' >/dev/null 2>&1; then
        echo "second engine up: unix://$SOCK${FORKLAB_ENGINE2_TCP:+ and tcp://$FORKLAB_ENGINE2_TCP (TLS files in $TLSDIR)} (Docker $(engine2 version --format '{{.Server.Version}}'))"
        [[ -n $owner ]] && echo "watcher: stops it once pid $owner is gone (log: $ROOT/watcher.log)"
        exit 0
      fi
      sleep 0.1
    done
    echo "second engine did not answer within ${WAIT_S} s; see $ROOT/dockerd.log" >&2
    exit 1
    ;;
  __watch)
    # The watcher (see --until-gone): $2 the owner pid, $3 the pid dockerd was launched with,
    # $4 whether to delete ROOT and DATA after stopping it.
    owner=$2 launched=$3 remove_dirs=$4
    echo $$ >"$WATCHPID"
    echo "$(date -Is) watcher $$: engine pid $launched, stops it once pid $owner is gone"
    engine_pid() { if [[ -s $PIDFILE ]]; then cat "$PIDFILE"; else echo "$launched"; fi; }
    while alive "$owner"; do
      if ! alive "$(engine_pid)"; then
        echo "$(date -Is) watcher $$: the engine stopped; nothing to do"
        rm -f "$WATCHPID"
        exit 0
      fi
      sleep 1
    done
    pid=$(engine_pid)
    echo "$(date -Is) watcher $$: pid $owner is gone; stopping the engine (pid $pid)"
    if ! stop_engine "$pid"; then
      echo "$(date -Is) watcher $$: pid $pid did not exit within ${WAIT_S} s of TERM; KILL"
      # Its whole session: a managed containerd goes too.
      pkill -KILL -s "$pid" 2>/dev/null || true
      sleep 1
      umount "$ROOT/exec/netns/default" 2>/dev/null || true
    fi
    rm -f "$WATCHPID"
    echo "$(date -Is) watcher $$: engine stopped"
    if ((remove_dirs)); then
      rm -rf --one-file-system "$DATA" "$ROOT"
    fi
    exit 0
    ;;
  copy-image)
    image=${2:?usage: $0 copy-image IMAGE}
    docker save "$image" | engine2 load
    ;;
  stop)
    stop_watcher
    if ! running; then
      echo "second engine not running"
      exit 0
    fi
    pid=$(cat "$PIDFILE")
    if stop_engine "$pid"; then
      echo "second engine stopped (its images stay in $DATA)"
      exit 0
    fi
    echo "second engine (pid $pid) did not exit within ${WAIT_S} s" >&2
    exit 1
    ;;
  *)
    echo "usage: $0 start [--until-gone PID [--remove-dirs]] | copy-image IMAGE | stop" >&2
    exit 2
    ;;
esac
