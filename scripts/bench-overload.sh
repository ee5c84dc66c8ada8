#!/usr/bin/env bash
# Step 4 of scripts/bench.sh, runnable alone: the daemon under open-loop load of queries that
# all differ (benches/load.rs), on a store of 200k posts over a year (benches/store.rs
# --populate), at 500 and 2,000 requests/s offered. Run twice in one go, side by side:
#   admission  the shipped [server] defaults (bounded concurrent queries, short queue, 503)
#   unbounded  admission control opened wide (every query admitted, as before it existed)
#
# Env: CXPULSE_BENCH_OVERLOAD_POSTS  posts in the store (default 200000)
#      CXPULSE_BENCH_OVERLOAD_SECS   seconds per rate (default 20)
#      CXPULSE_BENCH_OVERLOAD_RATES  offered rates (default 500,2000)
#      CXPULSE_BENCH_PORT            port on 127.0.0.1 (default 7979)
#      CXPULSE_BENCH_DIR             where the temporary store goes (default: mktemp -d)
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
say() { echo "bench-overload: $*"; }
die() {
    echo "bench-overload: error: $*" >&2
    exit 1
}
POSTS="${CXPULSE_BENCH_OVERLOAD_POSTS:-200000}"
SECS="${CXPULSE_BENCH_OVERLOAD_SECS:-20}"
RATES="${CXPULSE_BENCH_OVERLOAD_RATES:-500,2000}"
PORT="${CXPULSE_BENCH_PORT:-7979}"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "127.0.0.1:$PORT is in use; set CXPULSE_BENCH_PORT to a free port"
fi
if [[ -n "${CXPULSE_BENCH_DIR:-}" ]]; then
    mkdir -p "$CXPULSE_BENCH_DIR"
    WORK="$(mktemp -d "$CXPULSE_BENCH_DIR/cxpulse-overload.XXXXXX")"
else
    WORK="$(mktemp -d -t cxpulse-overload.XXXXXX)"
fi
DAEMON_PID=""
cleanup() {
    if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    rm -rf -- "$WORK"
}
trap cleanup EXIT

cargo build --locked --release --bin cxpulse
cargo bench --locked --bench load --no-run 2>/dev/null
say "populating a store with $POSTS posts over a year"
CXPULSE_BENCH_POSTS="$POSTS" cargo bench --locked --bench store -- --populate "$WORK/store"

run() { # $1: name, $2: extra [server] lines
    cat >"$WORK/cxpulse.toml" <<TOML
[server]
bind = "127.0.0.1:$PORT"
rate_limit_per_client_rps = 0
$2

[storage]
path = "$WORK/store"
author_salt = "benchmark-salt-not-secret"

[model]
dir = "$ROOT/models/tiny-test"

[fetch]
contact = "https://github.com/cxpulse/cxpulse (benchmark)"

[log]
level = "warn"

[[products]]
id = "nordwind-trail-2"
name = "Nordwind Trail Runner 2"
keywords = ["Nordwind"]
TOML
    (
        for v in $(compgen -e | grep '^CXPULSE_' || true); do unset "$v"; done
        export ORT_DYLIB_PATH="$ROOT/.cxpulse/lib/libonnxruntime.so"
        exec "$ROOT/target/release/cxpulse" --config "$WORK/cxpulse.toml" run
    ) >"$WORK/daemon-$1.log" 2>&1 &
    DAEMON_PID=$!
    local deadline=$(($(date +%s) + 300))
    until curl -fsS -o /dev/null --max-time 60 "http://127.0.0.1:$PORT/api/v1/health" 2>/dev/null; do
        kill -0 "$DAEMON_PID" 2>/dev/null || { cat "$WORK/daemon-$1.log" >&2; die "the daemon exited"; }
        (($(date +%s) < deadline)) || die "the daemon did not start"
        sleep 0.5
    done
    echo
    echo "### $1"
    echo
    cargo bench --locked --bench load -- --base "http://127.0.0.1:$PORT" --pid "$DAEMON_PID" \
        --product nordwind-trail-2 --rates "$RATES" --secs "$SECS" 2>/dev/null
    kill -TERM "$DAEMON_PID"
    wait "$DAEMON_PID" || die "the daemon did not shut down cleanly"
    DAEMON_PID=""
}
say "machine: $(nproc) cores; $POSTS posts; $SECS s per rate; every request a different query"
run admission ""
run unbounded "max_concurrent_queries = 1024
max_queued_queries = 100000
query_queue_timeout_ms = 60000"
