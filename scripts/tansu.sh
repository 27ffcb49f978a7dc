#!/usr/bin/env bash
# Tansu 0.6.0, the Apache-Kafka-compatible broker the real-broker tests run against.
#
#   scripts/tansu.sh install                 install into the cache; skipped when already there (~12 min cold)
#   scripts/tansu.sh bin                     print the binary's path (for KAFKA_EVENTS_TANSU)
#   scripts/tansu.sh start PORT [STORAGE] [TOPIC...]
#                                            start on 127.0.0.1:PORT (storage default memory://tansu/),
#                                            create each TOPIC with 3 partitions; state in $TANSU_STATE
#   scripts/tansu.sh stop PORT               stop the broker started on PORT
#
# A sqlite:// path is resolved against $TANSU_STATE/PORT, where the broker runs.
set -euo pipefail

VERSION=0.6.0
ROOT="${TANSU_ROOT:-$HOME/.cache/kafka-events/tansu-$VERSION}"
BIN="$ROOT/bin/tansu"
STATE="${TANSU_STATE:-${TMPDIR:-/tmp}/kafka-events-tansu}"

usage() { sed -n '2,12p' "$0" >&2; exit 2; }

install() {
    if [ -x "$BIN" ] && "$BIN" --version 2>/dev/null | grep -q "$VERSION"; then
        echo "tansu $VERSION: $BIN (cached)" >&2
        return
    fi
    echo "installing tansu $VERSION into $ROOT (about 12 minutes cold)" >&2
    cargo install tansu --version "$VERSION" --features dynostore,libsql --locked --root "$ROOT"
}

start() {
    local port=$1 storage=${2:-memory://tansu/}
    shift $(( $# < 2 ? $# : 2 ))
    [ -x "$BIN" ] || { echo "tansu is not installed: run $0 install" >&2; exit 1; }
    local dir="$STATE/$port"
    mkdir -p "$dir"
    local url="tcp://127.0.0.1:$port"
    (cd "$dir" && exec "$BIN" broker --listener-url "$url" --advertised-listener-url "$url" \
        --storage-engine "$storage" >"$dir/tansu.log" 2>&1) &
    echo $! >"$dir/pid"
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            for topic in "$@"; do
                "$BIN" topic create "$topic" --broker "$url" --partitions 3 >/dev/null
            done
            echo "tansu on 127.0.0.1:$port (pid $(cat "$dir/pid"), log $dir/tansu.log)" >&2
            return
        fi
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || { cat "$dir/tansu.log" >&2; exit 1; }
        sleep 0.1
    done
    echo "tansu did not start on port $port" >&2
    exit 1
}

stop() {
    local pidfile="$STATE/$1/pid"
    [ -f "$pidfile" ] || return 0
    kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
}

case "${1:-}" in
    install) install ;;
    bin) echo "$BIN" ;;
    start) shift; [ $# -ge 1 ] || usage; start "$@" ;;
    stop) [ $# -eq 2 ] || usage; stop "$2" ;;
    *) usage ;;
esac
