#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine for forklab, as root, with no questions asked:
#   1. the Debian packages the lab uses (build tools, Docker, wrk, nginx, Prometheus, Chromium,
#      clang for the fuzz target…),
#   2. no nginx or Prometheus service left running (the tests start their own),
#   3. a Docker engine that answers (dockerd started in the background if none does),
#   4. `npm ci`, whose install script builds the native engine.
# Safe to run again: every step checks before it acts. Quiet unless something fails.
#
# Environment: FORKLAB_SETUP_SKIP_NPM=1 skips step 4 (node_modules left alone).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
export DEBIAN_FRONTEND=noninteractive
export NEEDRESTART_MODE=l # needrestart (recommended by docker.io) only lists, never asks

DOCKERD_LOG=/var/log/forklab-dockerd.log
DOCKER_WAIT_S=60
PACKAGES=(docker.io wrk nginx-light prometheus chromium fonts-dejavu-core curl procps iproute2 ca-certificates openssl clang python3-tornado mmdebstrap)

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}

# Runs a command with its output kept in a file, shown only when the command fails.
quietly() {
  local out status=0
  out=$(mktemp)
  "$@" >"$out" 2>&1 </dev/null || status=$?
  if [ "$status" -ne 0 ]; then
    printf 'setup: "%s" failed (exit %d); last lines of its output:\n' "$*" "$status" >&2
    tail -n 60 "$out" >&2
    rm -f "$out"
    exit "$status"
  fi
  rm -f "$out"
}

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

[ "$(id -u)" -eq 0 ] || die "run as root (apt-get and dockerd need it)"
command -v apt-get >/dev/null || die "apt-get not found: this script sets up Debian (12) only"

# --- 1. Debian packages ----------------------------------------------------------------------
missing=()
for tool in g++ make python3; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
for pkg in "${PACKAGES[@]}"; do
  installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]}"
  # Keep apt's maintainer scripts from starting services while we install (nginx, Prometheus
  # and Docker would start otherwise); removed again on exit if we put it there.
  policy=/usr/sbin/policy-rc.d
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\n# forklab setup: no service starts during apt-get install\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f "$policy"' EXIT
    ours=1
  else
    ours=
  fi
  # Wait for the dpkg lock rather than fail (a first boot may still be running apt).
  apt_opts=(-y -q -o DPkg::Lock::Timeout=600 -o Dpkg::Use-Pty=0
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  quietly apt-get update -q -o DPkg::Lock::Timeout=600
  # With recommends, as verified here: docker.io recommends cgroupfs-mount, which a machine
  # without systemd needs for dockerd.
  quietly apt-get install "${apt_opts[@]}" "${missing[@]}"
  if [ -n "$ours" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
else
  say "Debian packages already installed"
fi

# --- 2. No nginx or Prometheus service of Debian's own --------------------------------------
# (prometheus-node-exporter comes with prometheus's recommends and would listen on every interface)
for svc in nginx prometheus prometheus-node-exporter; do
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  else
    service "$svc" stop >/dev/null 2>&1 || true
    update-rc.d "$svc" disable >/dev/null 2>&1 || true
  fi
done
# A Prometheus the package started runs as its own user; ours run as root and are left alone.
if pids=$(pgrep -u prometheus -x prometheus 2>/dev/null); then
  say "stopping the packaged prometheus (pid ${pids//$'\n'/ })"
  # shellcheck disable=SC2086 # one pid per word
  kill $pids 2>/dev/null || true
fi

# --- 3. A Docker engine that answers -------------------------------------------------------
docker_answers() { timeout 10 docker info >/dev/null 2>&1; }

if docker_answers; then
  say "Docker engine already running"
else
  started=
  if [ -s /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; then
    say "dockerd (pid $(cat /var/run/docker.pid)) is running but not answering yet; waiting"
  else
    say "starting dockerd (log: $DOCKERD_LOG)"
    # setsid + nohup: dockerd outlives this script and the CI step that ran it.
    setsid nohup dockerd >"$DOCKERD_LOG" 2>&1 </dev/null &
    started=$!
  fi
  deadline=$((SECONDS + DOCKER_WAIT_S))
  until [ -S /var/run/docker.sock ] && docker_answers; do
    if [ -n "$started" ] && ! kill -0 "$started" 2>/dev/null; then
      printf 'setup: error: dockerd exited at start-up; last lines of %s:\n' "$DOCKERD_LOG" >&2
      tail -n 40 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      printf 'setup: error: the Docker engine did not answer within %d s; last lines of %s:\n' \
        "$DOCKER_WAIT_S" "$DOCKERD_LOG" >&2
      tail -n 40 "$DOCKERD_LOG" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  say "Docker engine answering (${started:+started pid $started; }$(docker version --format '{{.Server.Version}}'))"
fi

# --- 4. Node.js dependencies and the native engine -----------------------------------------
if [ "${FORKLAB_SETUP_SKIP_NPM:-}" = 1 ]; then
  say "skipping npm ci (FORKLAB_SETUP_SKIP_NPM=1)"
  exit 0
fi
command -v node >/dev/null || die "Node.js 20 or later is needed (not found on PATH)"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js 20 or later is needed (found $(node --version))"
# Where the native build looks (scripts/build-native.mjs): beside the real binary, links resolved.
node_headers=$(node -p 'require("path").resolve(process.execPath, "..", "..", "include", "node", "node_api.h")')
[ -e "$node_headers" ] || die "Node.js headers not found ($node_headers); the native build needs them"

say "npm ci (builds the native engine)"
quietly npm ci --no-audit --no-fund --loglevel=error
[ -e build/Release/forklab.node ] || die "npm ci ran but build/Release/forklab.node is missing"
say "done"
