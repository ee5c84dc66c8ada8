#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, end to end (offline once scripts/setup.sh has run):
#
#   1. cargo bench --bench store: ingest and trend query, sled against SQLite, 1M posts
#   2. daemon RSS: a sled store with 1M posts (the bench binary's --populate), the daemon started
#      on it with the tiny-test model loaded, a few dozen API queries, then VmRSS / VmHWM from
#      /proc/PID/status against the 300 MB target, and a SIGTERM shutdown
#
# Usage: scripts/bench.sh [--no-store] [--no-rss]
#   --no-store  skip step 1            --no-rss  skip step 2
# Env: CXPULSE_BENCH_POSTS  posts to store (default 1000000)
#      CXPULSE_BENCH_DIR    where the temporary stores go (default: mktemp -d); 2-3 GB at 1M posts
#      CXPULSE_BENCH_PORT   port of the daemon on 127.0.0.1 (default 7979)
#      CXPULSE_BENCH_STORE  an already populated store to start the daemon on (skips populating)
#      CXPULSE_BENCH_KEEP=1 keep the populated store and the daemon's log
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

RUN_STORE=1
RUN_RSS=1
for arg in "$@"; do
    case "$arg" in
        --no-store) RUN_STORE=0 ;;
        --no-rss) RUN_RSS=0 ;;
        -h | --help)
            sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "bench: error: unknown argument '$arg' (try --help)" >&2
            exit 2
            ;;
    esac
done

say() { echo "bench: $*"; }
die() {
    echo "bench: error: $*" >&2
    exit 1
}

command -v cargo >/dev/null || die "cargo is not installed (https://rustup.rs)"
POSTS="${CXPULSE_BENCH_POSTS:-1000000}"
PORT="${CXPULSE_BENCH_PORT:-7979}"
MAIN_PRODUCT="nordwind-trail-2" # the main product of benches/store.rs
export CXPULSE_BENCH_POSTS="$POSTS"

bash scripts/setup.sh

say "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -h | awk '/^Mem:/ {print $2}') memory"

if ((RUN_STORE)); then
    say "1/2 store benchmark: cargo bench --bench store ($POSTS posts)"
    cargo bench --locked --bench store
fi

((RUN_RSS)) || exit 0

say "2/2 daemon RSS with the model loaded and $POSTS posts stored"
command -v curl >/dev/null || die "curl is needed for the RSS measurement"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    die "127.0.0.1:$PORT is in use; set CXPULSE_BENCH_PORT to a free port"
fi

if [[ -n "${CXPULSE_BENCH_DIR:-}" ]]; then
    mkdir -p "$CXPULSE_BENCH_DIR"
    WORK="$(mktemp -d "$CXPULSE_BENCH_DIR/cxpulse-rss.XXXXXX")"
else
    WORK="$(mktemp -d -t cxpulse-rss.XXXXXX)"
fi
DAEMON_PID=""
cleanup() {
    if [[ -n "$DAEMON_PID" ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then
        kill -TERM "$DAEMON_PID" 2>/dev/null || true
        wait "$DAEMON_PID" 2>/dev/null || true
    fi
    if [[ "${CXPULSE_BENCH_KEEP:-0}" == 1 ]]; then
        say "kept $WORK"
    else
        rm -rf -- "$WORK"
    fi
}
trap cleanup EXIT

say "building the daemon (cargo build --release)"
cargo build --locked --release --bin cxpulse

if [[ -n "${CXPULSE_BENCH_STORE:-}" ]]; then
    [[ -d "$CXPULSE_BENCH_STORE" ]] || die "CXPULSE_BENCH_STORE=$CXPULSE_BENCH_STORE is not a directory"
    say "using the store at $CXPULSE_BENCH_STORE (CXPULSE_BENCH_STORE; the daemon may write to it)"
    STORE="$CXPULSE_BENCH_STORE"
else
    STORE="$WORK/store"
    say "populating $STORE with $POSTS posts (benches/store.rs --populate)"
    cargo bench --locked --bench store -- --populate "$STORE"
fi

cat >"$WORK/cxpulse.toml" <<EOF
# Written by scripts/bench.sh: the shape of config/cxpulse.toml, no sources.
[server]
bind = "127.0.0.1:$PORT"

[storage]
path = "$STORE"
author_salt = "benchmark-salt-not-secret"

[model]
dir = "$ROOT/models/tiny-test"
batch_size = 32
threads = 2

[fetch]
contact = "https://github.com/cxpulse/cxpulse (benchmark)"

[log]
level = "warn"
format = "text"

[[products]]
id = "$MAIN_PRODUCT"
name = "Nordwind Trail Runner 2"
keywords = ["Nordwind", "Trail Runner 2"]

[[products]]
id = "nordwind-city-1"
name = "Nordwind City 1"
keywords = ["Nordwind City"]

[[products]]
id = "polaris-hiker-x"
name = "Polaris Hiker X"
keywords = ["Polaris"]
EOF

# Only the temporary config decides: no CXPULSE_* override from the caller's environment.
(
    for v in $(compgen -e | grep '^CXPULSE_' || true); do unset "$v"; done
    export ORT_DYLIB_PATH="$ROOT/.cxpulse/lib/libonnxruntime.so"
    exec "$ROOT/target/release/cxpulse" --config "$WORK/cxpulse.toml" run
) >"$WORK/daemon.log" 2>&1 &
DAEMON_PID=$!
BASE="http://127.0.0.1:$PORT/api/v1"

# Opening a 1M-post store and loading the model take a few seconds: generous per-request
# timeout, one deadline for the whole start-up.
start_ts=$(date +%s)
deadline=$((start_ts + 600))
until curl -fsS -o /dev/null --max-time 120 "$BASE/health" 2>/dev/null; do
    kill -0 "$DAEMON_PID" 2>/dev/null || {
        sed 's/^/bench:   daemon: /' "$WORK/daemon.log" >&2
        die "the daemon exited during start-up"
    }
    (($(date +%s) < deadline)) || die "the daemon did not answer /health within 600 s"
    sleep 0.5
done
say "daemon up (pid $DAEMON_PID) after $(($(date +%s) - start_ts)) s"
status_line() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$DAEMON_PID/status"; }
RSS_IDLE_KB=$(status_line VmRSS)

# A few dozen queries: the year's trend, pages of posts (plain and filtered), the summary.
RANGE="from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"
timed() { curl -fsS -o /dev/null --max-time 60 -w '%{time_total}\n' "$1"; }
: >"$WORK/trend.times"
: >"$WORK/posts.times"
: >"$WORK/label.times"
for i in $(seq 1 30); do
    timed "$BASE/products/$MAIN_PRODUCT/trends?$RANGE&interval=day" >>"$WORK/trend.times"
    timed "$BASE/products/$MAIN_PRODUCT/posts?$RANGE&limit=100" >>"$WORK/posts.times"
    if ((i % 5 == 0)); then
        timed "$BASE/products/$MAIN_PRODUCT/posts?$RANGE&label=emotions.anger&limit=50" >>"$WORK/label.times"
        timed "$BASE/products/$MAIN_PRODUCT/trends?$RANGE&interval=week" >/dev/null
        timed "$BASE/products/$MAIN_PRODUCT/summary?window=30d&to=2025-01-01T00:00:00Z" >/dev/null
        timed "$BASE/products/nordwind-city-1/trends?from=2024-12-01T00:00:00Z&to=2024-12-31T00:00:00Z&interval=hour" >/dev/null
    fi
done
HEALTH="$(curl -fsS --max-time 120 -w '\n%{time_total}' "$BASE/health")"
HEALTH_S="${HEALTH##*$'\n'}"
HEALTH="${HEALTH%$'\n'*}"
median_ms() { sort -g "$1" | awk '{a[NR] = $1} END {printf "%.1f", 1000 * a[int((NR + 1) / 2)]}'; }

RSS_KB=$(status_line VmRSS)
HWM_KB=$(status_line VmHWM)
ANON_KB=$(status_line RssAnon)
FILE_KB=$(status_line RssFile)
kill -TERM "$DAEMON_PID"
STOP_RC=0
wait "$DAEMON_PID" || STOP_RC=$?
DAEMON_PID=""

mb() { awk -v k="$1" 'BEGIN {printf "%.1f MB (%.1f MiB)", k * 1024 / 1e6, k / 1024}'; }
LIMIT_KB=$((300 * 1000 * 1000 / 1024)) # 300 MB = 300 * 10^6 bytes
verdict() { if (($1 <= LIMIT_KB)); then echo pass; else echo FAIL; fi; }
echo
echo "daemon RSS, tiny-test model loaded, $POSTS posts stored ($(du -sh "$STORE" | cut -f1) on disk)"
echo "  /health: $(grep -o '"store":{[^}]*}' <<<"$HEALTH" || echo "$HEALTH") in $HEALTH_S s"
echo "  HTTP latency (curl, medians of 30, 30 and 6 requests): trend of a year by day $(median_ms "$WORK/trend.times") ms, page of 100 posts $(median_ms "$WORK/posts.times") ms, page filtered by label $(median_ms "$WORK/label.times") ms"
echo "  VmRSS after start-up:     $(mb "$RSS_IDLE_KB")"
echo "  VmRSS after the queries:  $(mb "$RSS_KB")   (RssAnon $(mb "$ANON_KB"), RssFile $(mb "$FILE_KB"))   target <= 300 MB: $(verdict "$RSS_KB")"
echo "  VmHWM (peak):             $(mb "$HWM_KB")   target <= 300 MB: $(verdict "$HWM_KB")"
echo "  SIGTERM: daemon exited with status $STOP_RC"
((STOP_RC == 0)) || die "the daemon did not shut down cleanly (status $STOP_RC); log: $WORK/daemon.log"
