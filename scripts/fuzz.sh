#!/usr/bin/env bash
# Runs every fuzz target in fuzz/ for SECS seconds each (default 30) on stable Rust: the
# targets are built with libFuzzer's coverage instrumentation (the flags cargo-fuzz passes,
# without a sanitizer, which would need nightly), seeded with the test fixtures.
# A crash stops the run and leaves its input in fuzz/artifacts/<target>/: copy it into
# fuzz/regressions/<target>/ and fix the bug; tests/it/fuzz.rs replays that folder for ever.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
SECS="${1:-30}"
TARGETS=(feed jsonld selectors config text api_query)
cd "$ROOT"
[ -e .cxpulse/lib/libonnxruntime.so ] || bash scripts/setup.sh
export ORT_DYLIB_PATH="$ROOT/.cxpulse/lib/libonnxruntime.so"
cd fuzz
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps the flags off build scripts and proc macros (host code).
HOST="$(rustc -vV | sed -n 's/^host: //p')"
echo "fuzz: building ${#TARGETS[@]} targets"
cargo build --locked --release --bins --target "$HOST"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
seed() { # target, files...
  local t="$1"; shift
  mkdir -p "$WORK/$t"
  cp "$@" "$WORK/$t/" 2>/dev/null || true
  cp regressions/"$t"/* "$WORK/$t/" 2>/dev/null || true
}
F="$ROOT/tests/fixtures"
seed feed "$F"/feeds/*.xml
seed jsonld "$F"/pages/*.html
seed selectors
seed config "$ROOT"/config/cxpulse.toml
seed text "$F"/telegram/*.html "$F"/lemmy/*.json
seed api_query
for t in "${TARGETS[@]}"; do
  mkdir -p "artifacts/$t"
  echo "fuzz: $t for ${SECS}s"
  ./target/"$HOST"/release/"$t" -max_total_time="$SECS" -max_len=65536 -rss_limit_mb=4096 \
    -timeout=10 -artifact_prefix="artifacts/$t/" -print_final_stats=1 "$WORK/$t" 2>"$WORK/$t.log" \
    || { tail -40 "$WORK/$t.log" >&2; echo "fuzz: $t crashed; the input is in fuzz/artifacts/$t/" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$WORK/$t.log" | sed "s/^/fuzz:   $t /"
done
echo "fuzz: no crash in ${#TARGETS[@]} targets x ${SECS}s"
