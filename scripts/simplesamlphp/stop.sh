#!/usr/bin/env bash
# Stops the SimpleSAMLphp test IdP started by start.sh for STATE_DIR (the php -S server
# and its workers, which share one process group). Leaves STATE_DIR in place, so a later
# start.sh reuses the same IdP key/cert and sps.json. No-op when nothing is running.
#
#   scripts/simplesamlphp/stop.sh STATE_DIR
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 STATE_DIR" >&2; exit 2; }
PIDFILE="$1/php.pid"
[ -f "$PIDFILE" ] || exit 0
pid="$(cat "$PIDFILE")"
# Alive = exists and is not a zombie waiting for init to reap it.
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }
if [[ "$pid" =~ ^[0-9]+$ ]] && alive "$pid"; then
  # Only signal it if it is really our server (the pid may have been reused).
  if tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- '-S 127.0.0.1:'; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      alive "$pid" || break
      sleep 0.1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
fi
rm -f "$PIDFILE"
