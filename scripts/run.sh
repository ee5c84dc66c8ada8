#!/usr/bin/env bash
# Run the cxpulse daemon on the shipped default config and model (config/cxpulse.toml).
# Does its own set-up first: fetches libonnxruntime.so (PyPI wheel) and checks the model files.
# Extra arguments go to `cxpulse run` (e.g. --bind 127.0.0.1:9000).
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
command -v cargo >/dev/null || { echo "run: error: cargo is not installed (https://rustup.rs)" >&2; exit 1; }
bash scripts/setup.sh
echo "run: building (release)…"
cargo build --release --locked --bin cxpulse
exec target/release/cxpulse --config config/cxpulse.toml run "$@"
