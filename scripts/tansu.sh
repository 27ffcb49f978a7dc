#!/usr/bin/env bash
# Tansu 0.6.0, the Apache-Kafka-compatible broker the real-broker tests run against.
#
#   scripts/tansu.sh install                 install into the cache; skipped when already there (~12 min cold)
#   scripts/tansu.sh bin                     print the binary's path (for KAFKA_EVENTS_TANSU)
#   scripts/tansu.sh start PORT [STORAGE] [TOPIC...]
#                                            start on 127.0.0.1:PORT (storage default memory://tansu/),
#                                            create each TOPIC with 3 partitions; state in $TANSU_STATE
#   scripts/tansu.sh stop PORT               stop the broker started on PORT
#   scripts/tansu.sh user PORT NAME PASSWORD [scram512|scram256]
#                                            create a SASL SCRAM user (default scram512) on the
#                                            broker on PORT, before `authenticate`
#   scripts/tansu.sh authenticate PORT       restart the broker on PORT with --authentication
#                                            (its storage must be sqlite://: users live there)
#   scripts/tansu.sh tls PORT TLS_PORT BUNDLE
#                                            terminate TLS on 127.0.0.1:TLS_PORT with BUNDLE (PEM
#                                            certificate + key) in front of the broker on PORT
#                                            (socat); start that broker with
#                                            TANSU_ADVERTISE=localhost:TLS_PORT
#
# A sqlite:// path is resolved against $TANSU_STATE/PORT, where the broker runs. Tansu 0.6
# authenticates with SCRAM-SHA-256/512 only (no PLAIN), and its own TLS options don't work:
# hence the terminator.
set -euo pipefail

VERSION=0.6.0
ROOT="${TANSU_ROOT:-$HOME/.cache/kafka-events/tansu-$VERSION}"
BIN="$ROOT/bin/tansu"
STATE="${TANSU_STATE:-${TMPDIR:-/tmp}/kafka-events-tansu}"

usage() { sed -n '2,24p' "$0" >&2; exit 2; }

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
    printf '%s\n' "$storage" >"$dir/storage"
    printf '%s\n' "${TANSU_ADVERTISE:-127.0.0.1:$port}" >"$dir/advertised"
    run "$port"
    for topic in "$@"; do
        "$BIN" topic create "$topic" --broker "tcp://127.0.0.1:$port" --partitions 3 >/dev/null
    done
}

# Starts the broker of $STATE/PORT as recorded there, with any extra broker options.
run() {
    local port=$1; shift
    local dir="$STATE/$port"
    local url="tcp://127.0.0.1:$port"
    (cd "$dir" && exec "$BIN" broker --listener-url "$url" \
        --advertised-listener-url "tcp://$(cat "$dir/advertised")" \
        --storage-engine "$(cat "$dir/storage")" "$@" >>"$dir/tansu.log" 2>&1) &
    echo $! >"$dir/pid"
    wait_port "$port" "$(cat "$dir/pid")" "$dir/tansu.log"
    echo "tansu on 127.0.0.1:$port (pid $(cat "$dir/pid"), log $dir/tansu.log)" >&2
}

wait_port() {
    local port=$1 pid=$2 log=$3
    for _ in $(seq 1 600); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return
        fi
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.1
    done
    echo "nothing listens on port $port" >&2
    exit 1
}

user() {
    local port=$1 name=$2 password=$3 mechanism=${4:-scram512}
    "$BIN" user create "$name" "$password" --broker "tcp://127.0.0.1:$port" --mechanism "$mechanism" >/dev/null
    echo "user $name ($mechanism) created" >&2
}

authenticate() {
    local port=$1 dir="$STATE/$1"
    case "$(cat "$dir/storage" 2>/dev/null)" in
        sqlite://*) ;;
        *) echo "authenticate needs a broker started on sqlite:// storage" >&2; exit 1 ;;
    esac
    kill "$(cat "$dir/pid")" 2>/dev/null || true
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do sleep 0.1; done
    run "$port" --authentication
}

tls() {
    local port=$1 tls_port=$2 bundle=$3 dir="$STATE/$1"
    command -v socat >/dev/null || { echo "socat is not installed (Debian: socat)" >&2; exit 1; }
    socat "OPENSSL-LISTEN:$tls_port,bind=127.0.0.1,reuseaddr,fork,cert=$bundle,verify=0" \
        "TCP:127.0.0.1:$port" >>"$dir/socat.log" 2>&1 &
    echo $! >"$dir/socat.pid"
    wait_port "$tls_port" "$(cat "$dir/socat.pid")" "$dir/socat.log"
    echo "TLS on 127.0.0.1:$tls_port in front of 127.0.0.1:$port (pid $(cat "$dir/socat.pid"))" >&2
}

stop() {
    local pidfile
    for pidfile in "$STATE/$1/pid" "$STATE/$1/socat.pid"; do
        [ -f "$pidfile" ] || continue
        kill "$(cat "$pidfile")" 2>/dev/null || true
        rm -f "$pidfile"
    done
}

case "${1:-}" in
    install) install ;;
    bin) echo "$BIN" ;;
    start) shift; [ $# -ge 1 ] || usage; start "$@" ;;
    stop) [ $# -eq 2 ] || usage; stop "$2" ;;
    user) shift; [ $# -ge 3 ] || usage; user "$@" ;;
    authenticate) [ $# -eq 2 ] || usage; authenticate "$2" ;;
    tls) shift; [ $# -eq 3 ] || usage; tls "$@" ;;
    *) usage ;;
esac
