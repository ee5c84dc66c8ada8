#!/usr/bin/env python3
"""Python peers of the classifier speed benchmark (scripts/bench_classifier.sh runs all of them
side by side on the same texts): `onnxruntime` on the same ONNX file, and `transformers` (torch)
on the same trained weights. Prints one JSON line: texts/s and peak RSS."""

import argparse
import json
import resource
import time

import numpy as np


def batches(n, size, order):
    for k in range(0, n, size):
        yield order[k:k + size]


def run_onnxruntime(model_dir, texts, threads, batch):
    import onnxruntime as ort
    from tokenizers import Tokenizer

    labels = json.load(open(f"{model_dir}/labels.json"))
    tok = Tokenizer.from_file(f"{model_dir}/tokenizer.json")
    tok.enable_truncation(labels["max_length"])
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    sess = ort.InferenceSession(f"{model_dir}/model.onnx", so, providers=["CPUExecutionProvider"])

    def classify(ts):
        enc = tok.encode_batch(ts)
        # Same strategy as cxpulse: sort by length so each batch pads little.
        order = sorted(range(len(ts)), key=lambda i: len(enc[i].ids))
        out = [None] * len(ts)
        for idx in batches(len(ts), batch, order):
            L = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), L), np.int64)
            mask = np.zeros((len(idx), L), np.int64)
            for r, i in enumerate(idx):
                ids[r, :len(enc[i].ids)] = enc[i].ids
                mask[r, :len(enc[i].ids)] = 1
            res = sess.run(None, {"input_ids": ids, "attention_mask": mask})
            for r, i in enumerate(idx):
                out[i] = [x[r] for x in res]
        return out

    return classify


def run_transformers(torch_dir, texts, threads, batch):
    import torch
    from transformers import AutoModel, AutoTokenizer

    torch.set_num_threads(threads)
    tok = AutoTokenizer.from_pretrained(f"{torch_dir}/encoder")
    enc = AutoModel.from_pretrained(f"{torch_dir}/encoder").eval()
    heads = torch.load(f"{torch_dir}/heads.pt")
    W = {k: v for k, v in heads.items()}

    def lin(name, x):
        return x @ W[f"heads.{name}.weight"].T + W[f"heads.{name}.bias"]

    @torch.inference_mode()
    def classify(ts):
        out = []
        # Like a transformers pipeline: batches in input order, padded to the longest.
        for k in range(0, len(ts), batch):
            b = tok(ts[k:k + batch], padding=True, truncation=True, max_length=256, return_tensors="pt")
            h = enc(**b).last_hidden_state
            m = b["attention_mask"].unsqueeze(-1).float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
            res = [torch.sigmoid(lin("emotions", pooled)), torch.softmax(lin("sentiment", pooled), -1),
                   torch.sigmoid(lin("touchpoints", pooled)), torch.softmax(lin("brand_authenticity", pooled), -1)]
            ids, am = b["input_ids"], b["attention_mask"].float()
            for name in ("mg", "dec"):
                # train.py's Exported.score: word-piece unigrams and hashed bigrams over sqrt(count).
                vocab, buckets = W[f"{name}_uni"].shape[0], W[f"{name}_bi"].shape[0]
                uni = (W[f"{name}_uni"][ids].squeeze(-1) * am).sum(1) / am.sum(1).clamp(min=1).sqrt()
                pm = am[:, :-1] * am[:, 1:]
                pairs = (ids[:, :-1] * vocab + ids[:, 1:]) % buckets
                bi = (W[f"{name}_bi"][pairs].squeeze(-1) * pm).sum(1) / pm.sum(1).clamp(min=1).sqrt()
                logit = pooled @ W[f"{name}_w"] + uni + bi + W[f"{name}_b"]
                res.append(torch.sigmoid(logit))
            out.extend(zip(*[r.numpy() for r in res]))
        return out

    return classify


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--impl", choices=["onnxruntime", "transformers"], required=True)
    ap.add_argument("--model", required=True, help="model folder (onnxruntime) or torch weights folder (transformers)")
    ap.add_argument("--texts", required=True)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    a = ap.parse_args()
    texts = [json.loads(line)["text"] for line in open(a.texts, encoding="utf-8")]
    make = run_onnxruntime if a.impl == "onnxruntime" else run_transformers
    classify = make(a.model, texts, a.threads, a.batch)
    classify(texts[:64])  # warm-up
    t = time.perf_counter()
    out = classify(texts)
    secs = time.perf_counter() - t
    assert len(out) == len(texts)
    print(json.dumps({"impl": f"python {a.impl}", "texts": len(texts), "seconds": round(secs, 3),
                      "texts_per_s": round(len(texts) / secs, 1),
                      "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


if __name__ == "__main__":
    main()
