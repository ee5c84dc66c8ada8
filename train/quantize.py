#!/usr/bin/env python3
"""Dynamic int8 quantisation (per-channel weights) of a cxpulse model folder:

    python3 train/quantize.py models/cx-minilm /tmp/cx-minilm-int8

Copies tokenizer.json, labels.json (name suffixed -int8) and the model card, quantises
model.onnx, and writes SHA256SUMS. Compare the two with `cxpulse eval` before choosing one."""

import hashlib
import json
import shutil
import sys
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic


def main():
    src, dst = Path(sys.argv[1]), Path(sys.argv[2])
    dst.mkdir(parents=True, exist_ok=True)
    # The score heads multiply by a 1-D weight vector, which per-channel integer MatMul does not
    # support (and which is tiny): keep those in float.
    import onnx
    graph = onnx.load(str(src / "model.onnx")).graph
    one_d = {i.name for i in graph.initializer if len(i.dims) == 1}
    exclude = [n.name for n in graph.node if n.op_type == "MatMul" and n.input[1] in one_d]
    quantize_dynamic(str(src / "model.onnx"), str(dst / "model.onnx"),
                     per_channel=True, weight_type=QuantType.QInt8, nodes_to_exclude=exclude)
    shutil.copy(src / "tokenizer.json", dst / "tokenizer.json")
    labels = json.loads((src / "labels.json").read_text())
    labels["name"] = dst.name
    labels["description"] += " (dynamic int8 quantisation, per-channel)"
    (dst / "labels.json").write_text(json.dumps(labels, indent=2) + "\n")
    for extra in ("README.md", "metrics.json"):
        if (src / extra).exists():
            shutil.copy(src / extra, dst / extra)
    sums = "".join(f"{hashlib.sha256((dst / f).read_bytes()).hexdigest()}  {f}\n"
                   for f in ["labels.json", "model.onnx", "tokenizer.json"])
    (dst / "SHA256SUMS").write_text(sums)
    print("wrote", dst)


if __name__ == "__main__":
    main()
