#!/usr/bin/env bash
# Classifier speed, side by side in one run on the same 1,000 review-like texts:
#   cxpulse (Rust, ort)  ·  Python onnxruntime on the same ONNX file  ·  Python transformers
#   (torch) on the same trained weights. Prints texts/s, peak RSS and the ratios.
# Usage: scripts/bench_classifier.sh [MODEL_DIR] [TORCH_WEIGHTS_DIR]
#   MODEL_DIR          default models/cx-minilm
#   TORCH_WEIGHTS_DIR  default /tmp/cx-minilm-torch (written by train/train.py --torch-out);
#                      without it the transformers peer is skipped, and the script says so.
set -euo pipefail
ROOT="$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
MODEL="${1:-models/cx-minilm}"
TORCH_DIR="${2:-/tmp/cx-minilm-torch}"
THREADS="${THREADS:-2}"
bash scripts/setup.sh

VENV="$ROOT/.cxpulse/bench-venv"
if [ ! -x "$VENV/bin/python" ]; then
    echo "bench: creating the Python peers' environment (train/requirements.txt) in $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q -r train/requirements.txt
fi

TEXTS="$ROOT/target/bench-texts.jsonl"
mkdir -p target
# 1,000 review-like texts: the sample data set's reviews, with titles, cycled.
python3 - "$TEXTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open("config/sample/reviews.jsonl", encoding="utf-8")]
texts = [r["body"] for r in rows] + [f'{r["title"]}. {r["body"]}' for r in rows if r.get("title")]
with open(sys.argv[1], "w", encoding="utf-8") as f:
    for i in range(1000):
        f.write(json.dumps({"text": texts[i % len(texts)]}) + "\n")
PY

cargo build --release --locked --bench classifier >/dev/null 2>&1 || cargo bench --locked --bench classifier --no-run
BIN="$(ls -t target/release/deps/classifier-* | grep -v '\.d$' | head -1)"
RESULTS="$(mktemp)"
echo "bench: cxpulse (rust, ort) on $MODEL"
"$BIN" --bench --model "$MODEL" --texts "$TEXTS" --threads "$THREADS" | tee -a "$RESULTS"
echo "bench: python onnxruntime on $MODEL"
"$VENV/bin/python" bench/peers.py --impl onnxruntime --model "$MODEL" --texts "$TEXTS" --threads "$THREADS" | tee -a "$RESULTS"
if [ -f "$TORCH_DIR/heads.pt" ]; then
    echo "bench: python transformers (torch) on $TORCH_DIR"
    "$VENV/bin/python" bench/peers.py --impl transformers --model "$TORCH_DIR" --texts "$TEXTS" --threads "$THREADS" | tee -a "$RESULTS"
else
    echo "bench: no torch weights at $TORCH_DIR (run train/train.py); transformers peer skipped"
fi
python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
rust = next(r for r in rows if r["impl"].startswith("cxpulse"))
print(f"\n{'implementation':<28} {'texts/s':>9} {'peak RSS MB':>12} {'cxpulse is':>12}")
for r in rows:
    ratio = rust["texts_per_s"] / r["texts_per_s"]
    print(f"{r['impl']:<28} {r['texts_per_s']:>9.1f} {r['peak_rss_mb']:>12.1f} {ratio:>11.2f}x")
PY
