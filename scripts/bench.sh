#!/usr/bin/env bash
# The benchmarks of BENCHMARKS.md, end to end (offline once scripts/setup.sh has run):
#
#   1. cargo bench --bench store: ingest and trend query, sled against SQLite, 1M posts
#   2. daemon RSS: a sled store with 1M posts (the bench binary's --populate), the daemon started
#      on it with the tiny-test model loaded, a few dozen API queries, then VmRSS / VmHWM from
#      /proc/PID/status against the 300 MB target, and a SIGTERM shutdown
#   3. load: on the same store, wrk (Debian package) sends trend and post queries at about
#      1,000 requests/s for 30 s while API clients ingest posts; throughput, p50/p99, errors
#   4. overload (scripts/bench-overload.sh, run between steps 1 and 2): open-loop load of
#      queries that all differ, 500 and 2,000 requests/s on 200k posts, admission control on
#      and opened wide, side by side
#
# Usage: scripts/bench.sh [--no-store] [--no-rss] [--no-load] [--no-overload]
#   --no-store  skip step 1   --no-rss  skip step 2   --no-load  skip step 3
#   --no-overload  skip step 4
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
RUN_LOAD=1
RUN_OVERLOAD=1
for arg in "$@"; do
    case "$arg" in
        --no-overload) RUN_OVERLOAD=0 ;;
        --no-load) RUN_LOAD=0 ;;
        --no-store) RUN_STORE=0 ;;
        --no-rss) RUN_RSS=0 ;;
        -h | --help)
            sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
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
    say "1/3 store benchmark: cargo bench --bench store ($POSTS posts)"
    cargo bench --locked --bench store
fi

if ((RUN_OVERLOAD)); then
    say "4/4 overload: scripts/bench-overload.sh"
    bash scripts/bench-overload.sh
fi

((RUN_RSS || RUN_LOAD)) || exit 0

say "2/3 daemon RSS with the model loaded and $POSTS posts stored"
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
# The load step ingests through the API, and all its clients share one address.
api_token = "benchmark-token-0123456789"
rate_limit_per_client_rps = 0

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

start_daemon() {
    # Only the temporary config decides: no CXPULSE_* override from the caller's environment.
    (
        for v in $(compgen -e | grep '^CXPULSE_' || true); do unset "$v"; done
        export ORT_DYLIB_PATH="$ROOT/.cxpulse/lib/libonnxruntime.so"
        exec "$ROOT/target/release/cxpulse" --config "$WORK/cxpulse.toml" run
    ) >"$WORK/daemon.log" 2>&1 &
    DAEMON_PID=$!

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
}
BASE="http://127.0.0.1:$PORT/api/v1"
start_daemon

status_line() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$DAEMON_PID/status"; }
RSS_IDLE_KB=$(status_line VmRSS)

# A few dozen queries: the year's trend, pages of posts (plain and filtered), the summary.
# Each ends a second later than the one before, so none is answered from the answer cache:
# these are the costs of computing an answer. The cached ones follow.
RANGE="from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:00Z"
timed() { curl -fsS -o /dev/null --max-time 60 -w '%{time_total}\n' "$1"; }
: >"$WORK/trend.times"
: >"$WORK/posts.times"
: >"$WORK/label.times"
: >"$WORK/cached.times"
for i in $(seq 1 30); do
    FRESH="from=2024-01-01T00:00:00Z&to=2025-01-01T00:00:$(printf '%02d' "$i")Z"
    timed "$BASE/products/$MAIN_PRODUCT/trends?$FRESH&interval=day" >>"$WORK/trend.times"
    timed "$BASE/products/$MAIN_PRODUCT/posts?$FRESH&limit=100" >>"$WORK/posts.times"
    timed "$BASE/products/$MAIN_PRODUCT/trends?$RANGE&interval=day" >>"$WORK/cached.times"
    if ((i % 5 == 0)); then
        timed "$BASE/products/$MAIN_PRODUCT/posts?$FRESH&label=emotions.anger&limit=50" >>"$WORK/label.times"
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
echo "  HTTP latency, computed (curl, medians of 30, 30 and 6 requests): trend of a year by day $(median_ms "$WORK/trend.times") ms, page of 100 posts $(median_ms "$WORK/posts.times") ms, page filtered by label $(median_ms "$WORK/label.times") ms"
echo "  HTTP latency, the year's trend from the answer cache (median of 30): $(median_ms "$WORK/cached.times") ms"
echo "  VmRSS after start-up:     $(mb "$RSS_IDLE_KB")"
echo "  VmRSS after the queries:  $(mb "$RSS_KB")   (RssAnon $(mb "$ANON_KB"), RssFile $(mb "$FILE_KB"))   target <= 300 MB: $(verdict "$RSS_KB")"
echo "  VmHWM (peak):             $(mb "$HWM_KB")   target <= 300 MB: $(verdict "$HWM_KB")"
echo "  SIGTERM: daemon exited with status $STOP_RC"
((STOP_RC == 0)) || die "the daemon did not shut down cleanly (status $STOP_RC); log: $WORK/daemon.log"

((RUN_LOAD)) || exit 0
say "3/3 load: wrk at about 1,000 requests/s on trends and posts, $POSTS posts stored, with ingest"
if ! command -v wrk >/dev/null; then
    say "installing wrk (Debian package)"
    if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q wrk >/dev/null \
        || die "wrk is needed for the load step (apt-get install wrk)"
fi
start_daemon
# Requests alternate between the year's daily trend, the last month's hourly trend, a page of
# posts and a label-filtered page; each connection waits 15 ms between requests, so 16
# connections ask for about 1,000 requests/s (wrk measures latency without the wait).
cat >"$WORK/mix.lua" <<LUA
local paths = {
  "/api/v1/products/$MAIN_PRODUCT/trends?$RANGE&interval=day",
  "/api/v1/products/$MAIN_PRODUCT/posts?$RANGE&limit=50",
  "/api/v1/products/nordwind-city-1/trends?from=2024-12-01T00:00:00Z&to=2024-12-31T00:00:00Z&interval=hour",
  "/api/v1/products/$MAIN_PRODUCT/posts?$RANGE&label=emotions.joy&limit=20",
}
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
delay = function() return 15 end
LUA
# Ingest runs alongside: batches of 100 posts through the API, as fast as they are taken.
(
    n=0
    while :; do
        body="{\"posts\":["
        for i in $(seq 1 100); do
            body+="{\"id\":\"load-$n-$i\",\"text\":\"Nordwind Trail Runner 2 load post $n $i: the sole wore out fast\",\"published\":\"2024-12-$(printf '%02d' $((1 + (n + i) % 28)))T10:00:00Z\"}"
            ((i < 100)) && body+=","
        done
        body+="]}"
        curl -fsS -o /dev/null --max-time 60 -H "Authorization: Bearer benchmark-token-0123456789" \
            -H "Content-Type: application/json" --data "$body" \
            "$BASE/products/$MAIN_PRODUCT/posts" && echo ok >>"$WORK/ingest.count"
        n=$((n + 1))
    done
) &
INGEST_PID=$!
wrk -t2 -c16 -d30s --latency -s "$WORK/mix.lua" "http://127.0.0.1:$PORT" >"$WORK/wrk.txt" 2>&1 || true
kill "$INGEST_PID" 2>/dev/null || true
wait "$INGEST_PID" 2>/dev/null || true
INGESTED=$(($(wc -l <"$WORK/ingest.count" 2>/dev/null || echo 0) * 100))
# Where the answers came from: every ingest makes the main product's kept answers stale.
ANSWERS="$(curl -fsS --max-time 60 "http://127.0.0.1:$PORT/metrics" | awk -F'[" ]' '/^cxpulse_api_cache_answers_total/ {printf "%s %s  ", $2, $4}')"
kill -TERM "$DAEMON_PID"
STOP_RC=0
wait "$DAEMON_PID" || STOP_RC=$?
DAEMON_PID=""
sed 's/^/bench:   wrk: /' "$WORK/wrk.txt"
RPS=$(awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt")
P50=$(awk '$1 == "50%" {print $2}' "$WORK/wrk.txt")
P99=$(awk '$1 == "99%" {print $2}' "$WORK/wrk.txt")
NON2XX=$(awk '/Non-2xx or 3xx responses:/ {print $5 + 0}' "$WORK/wrk.txt")
SOCKET=$(awk '/Socket errors:/ {print $4 + $6 + $8 + $10}' "$WORK/wrk.txt")
ERRORS=$((${NON2XX:-0} + ${SOCKET:-0}))
to_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) printf "%.2f", v / 1000; else if (v ~ /ms$/) printf "%.2f", v + 0; else printf "%.2f", v * 1000 }'; }
P50_MS=$(to_ms "$P50")
P99_MS=$(to_ms "$P99")
LOAD_OK=$(awk -v r="$RPS" -v p="$P99_MS" -v e="$ERRORS" 'BEGIN { print (r >= 950 && p <= 20 && e == 0) ? "pass" : "FAIL" }')
echo
echo "load, $POSTS posts stored, with $INGESTED posts ingested through the API meanwhile"
echo "  throughput: $RPS requests/s   latency p50 $P50_MS ms, p99 $P99_MS ms   errors: $ERRORS"
echo "  answers by origin (answer cache): $ANSWERS"
echo "  target: p99 <= 20 ms at 1,000 requests/s with no errors: $LOAD_OK"
echo "  SIGTERM: daemon exited with status $STOP_RC"
((STOP_RC == 0)) || die "the daemon did not shut down cleanly (status $STOP_RC)"
