#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and integration tests (offline; servers the
# tests need are started by the tests on 127.0.0.1). Does its own set-up first.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
command -v cargo >/dev/null || { echo "test: error: cargo is not installed (https://rustup.rs)" >&2; exit 1; }
bash scripts/setup.sh
# The dashboard test drives Debian's headless Chromium through chromedriver.
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  echo "test: installing chromium and chromium-driver (Debian packages) for the dashboard test"
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "test: error: the dashboard test needs chromium and chromium-driver; install them as root (apt-get install chromium chromium-driver)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q >/dev/null || { echo "test: error: apt-get update failed" >&2; exit 1; }
  $SUDO apt-get install -y -q chromium chromium-driver >/dev/null \
    || { echo "test: error: cannot install chromium and chromium-driver" >&2; exit 1; }
fi
# The fuzz crate has its own lock file: a dependency added to the main crate must reach it,
# or the fuzzing step of CI fails after the whole suite has run.
(cd fuzz && cargo metadata --locked --format-version 1 >/dev/null) \
  || { echo "test: error: fuzz/Cargo.lock is out of date; run: (cd fuzz && cargo metadata --format-version 1 >/dev/null)" >&2; exit 1; }
echo "test: cargo fmt --check"
cargo fmt --all -- --check
echo "test: cargo clippy"
cargo clippy --locked --release --all-targets -- -D warnings
echo "test: cargo test"
# Release profile: the crash test imports tens of thousands of rows, and the daemon binary the
# tests start is the same one scripts/run.sh runs.
# The benchmark binaries first, in their quick smoke mode, so that the suite's last lines are
# the test runner's own summary.
cargo test --locked --release --benches
cargo test --locked --release --lib --bins --tests
