#!/usr/bin/env python3
"""Write models/tiny-test/: a hand-set bag-of-words plumbing model for cxpulse.

Nothing here is trained and no data is read. The weights are written by hand
so that tests (and the daemon, until the trained CX model ships) have a small,
deterministic model with the exact input/output contract of the real one:

  inputs : input_ids int64 [batch, sequence], attention_mask int64 [batch, sequence]
  outputs: one float32 [batch, n_labels] tensor per head, named as the head

For every head h:   out_h = act( sum_t mask_t * W_h[id_t] / max(sum_t mask_t, 1) + b_h )
with act = Sigmoid for multi_label / score heads and Softmax(axis=-1) for
single_label heads. [PAD], [UNK], [CLS], [SEP] and all non-cue words have
all-zero rows, but they count in the mean, so cues are diluted by length.

Cue rule (see CUES below): a primary cue adds +40 to a label's logit, a
secondary cue +20. Multi-label / score biases are -2.5 (sigmoid = 0.076), so a
single primary cue in a text of N tokens (counting [CLS] and [SEP]) pushes its
label above 0.5 exactly when N < 16.

Regenerate:  pip install -r scripts/requirements-tiny.txt && python3 scripts/make_tiny_model.py
The output is byte-for-byte deterministic for the pinned requirements.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "models" / "tiny-test"

OPSET = 17
IR_VERSION = 8  # the IR version that goes with opset 17; any onnxruntime >= 1.13 reads it
MAX_LENGTH = 128

# ---------------------------------------------------------------------------
# Heads and labels (order matters: it is the output order of the model)
# ---------------------------------------------------------------------------

GOEMOTIONS = [
    "admiration", "amusement", "anger", "annoyance", "approval", "caring",
    "confusion", "curiosity", "desire", "disappointment", "disapproval",
    "disgust", "embarrassment", "excitement", "fear", "gratitude", "grief",
    "joy", "love", "nervousness", "optimism", "pride", "realization", "relief",
    "remorse", "sadness", "surprise", "neutral",
]

EKMAN = {
    "anger": ["anger", "annoyance", "disapproval"],
    "disgust": ["disgust"],
    "fear": ["fear", "nervousness"],
    "joy": ["joy", "amusement", "approval", "excitement", "gratitude", "love",
            "optimism", "relief", "pride", "admiration", "desire", "caring"],
    "sadness": ["sadness", "disappointment", "embarrassment", "grief", "remorse"],
    "surprise": ["surprise", "realization", "confusion", "curiosity"],
    "neutral": ["neutral"],
}

# (name, kind, labels, bias per label)
HEADS = [
    ("emotions", "multi_label", GOEMOTIONS, [-2.5] * len(GOEMOTIONS)),
    ("sentiment", "single_label", ["negative", "neutral", "positive", "mixed"], [0.0, 2.0, 0.0, -1.0]),
    ("touchpoints", "multi_label",
     ["product", "service", "price", "delivery", "support", "advertising", "place"], [-2.5] * 7),
    ("brand_authenticity", "single_label", ["genuine", "fake", "none"], [0.0, 0.0, 2.0]),
    ("machine_generated", "score", ["machine_generated"], [-2.5]),
    ("deceptive", "score", ["deceptive"], [-2.5]),
]

S = 40.0  # primary cue
M = 20.0  # secondary cue
POL_MIXED = 25.0  # every polar word also adds this to sentiment/mixed, so pos+neg -> mixed
CONTRAST = 10.0  # "but", "however", ... add this to sentiment/mixed

# ---------------------------------------------------------------------------
# Cue lexicon: word -> list of (head, label, weight). Shorthands below.
# ---------------------------------------------------------------------------


def emo(*labels: str, w: float = S):
    return [("emotions", lab, w) for lab in labels]


def pos(w: float = S):
    return [("sentiment", "positive", w), ("sentiment", "mixed", POL_MIXED)]


def neg(w: float = S):
    return [("sentiment", "negative", w), ("sentiment", "mixed", POL_MIXED)]


def tp(*labels: str, w: float = S):
    return [("touchpoints", lab, w) for lab in labels]


CUES: dict[str, list] = {}


def cue(words: str, *parts):
    for word in words.split():
        entry = CUES.setdefault(word, [])
        for part in parts:
            entry.extend(part)


# joy / admiration / love, positive
cue("love loved loves lovely", emo("joy", "love"), emo("admiration", w=M), pos())
cue("great amazing excellent perfect awesome fantastic wonderful brilliant superb outstanding",
    emo("joy", "admiration"), pos())
cue("happy glad pleased delighted enjoy enjoyed", emo("joy"), pos())
cue("good nice best", emo("approval", "admiration", w=M), pos())
cue("like liked", emo("approval", w=M), pos(M))
# anger / annoyance, negative
cue("terrible awful angry furious worst horrible", emo("anger", "annoyance"), neg())
cue("annoying annoyed frustrating frustrated", emo("annoyance"), emo("anger", w=M), neg())
cue("bad poor", emo("disapproval", "annoyance", w=M), neg())
cue("hate hated", emo("anger"), emo("disgust", w=M), neg())
cue("unacceptable disagree", emo("disapproval"), neg())
cue("disgusting gross", emo("disgust"), neg())
# disappointment / sadness
cue("disappointed disappointing disappointment letdown", emo("disappointment", "sadness"), neg())
cue("sad unhappy", emo("sadness"), neg())
cue("grief died", emo("grief", "sadness"), neg())
cue("sorry regret", emo("remorse"), emo("sadness", w=M))
cue("embarrassed embarrassing awkward", emo("embarrassment"), neg(M))
# other GoEmotions labels
cue("thanks thank grateful", emo("gratitude"), pos())
cue("scared afraid", emo("fear"), neg(M))
cue("nervous anxious worried", emo("nervousness"), emo("fear", w=M), neg(M))
cue("wow surprised surprising unexpected", emo("surprise"))
cue("funny hilarious lol", emo("amusement"), pos(M))
cue("confused confusing", emo("confusion"), neg(M))
cue("curious wonder", emo("curiosity"))
cue("want wish", emo("desire"))
cue("excited exciting", emo("excitement", "joy"), pos())
cue("hope hopefully", emo("optimism"), pos(M))
cue("proud", emo("pride"), pos())
cue("realized realize", emo("realization"))
cue("relieved relief finally", emo("relief"), pos(M))
cue("caring", emo("caring"))
cue("okay ok fine average decent", emo("neutral"), [("sentiment", "neutral", S)])
cue("but however although though except", [("sentiment", "mixed", CONTRAST)])
# touchpoints
cue("delivery delivered deliver shipping shipped courier arrived arrive late package parcel",
    tp("delivery"))
cue("late", neg(M))  # a late parcel is bad news
cue("price prices expensive cheap money cost costs overpriced", tp("price"))
cue("overpriced", neg())
cue("staff service waiter waitress rude", tp("service"))
cue("rude", emo("annoyance", "disapproval", w=M), neg())
cue("support refund warranty helpdesk", tp("support"))
cue("ad ads advert adverts advertising marketing campaign commercial", tp("advertising"))
cue("store shop atmosphere place restaurant hotel", tp("place"))
cue("quality product shoes battery broke broken", tp("product"))
cue("broke broken", neg(M))
# brand authenticity
cue("scam fake hype greenwashing spin", [("brand_authenticity", "fake", S)])
cue("scam", neg())
cue("genuine honest authentic caring real", [("brand_authenticity", "genuine", S)])
# machine-generated style
cue("delve overall highly recommend furthermore", [("machine_generated", "machine_generated", S)])
# deceptive-review cues
cue("husband wife vacation luxury", [("deceptive", "deceptive", S)])

# ---------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]

PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
LETTERS = [chr(c) for c in range(ord("a"), ord("z") + 1)]
DIGITS = [str(d) for d in range(10)]
SUFFIXES = ["##s", "##es", "##ed", "##d", "##ing", "##ly", "##er", "##ers", "##est", "##y", "##ies",
            "##ness", "##ful", "##less", "##able", "##ment", "##tion", "##al", "##ic", "##ous"]

# Plain review vocabulary (no cue weight) so ordinary sentences tokenize into words.
COMMON = """
the a an and or nor so if then than that this these those there here it its it's is are was were be
been being am do does did done doing have has had having will would shall should can could may might
must not no yes very really too quite just only also even still again more most less least much many
few some any all every each both either neither other another such own same what which who whom whose
when where why how i me my mine myself we us our ours you your yours he him his she her hers they them
their theirs one two three four five ten first second last next new old big small long short high low
full empty fast slow easy hard early right left top bottom up down in on at by for from with without
about into onto over under after before during while until since because as of off out to through
again ago now today yesterday tomorrow week weeks month months year years day days time times hour
hours minute minutes order ordered orders buy bought purchase purchased pay paid get got give gave
make made take took use used using come came go went see saw say said tell told ask asked call called
try tried work works worked working need needed feel felt think thought know knew look looked seem
seemed keep kept find found return returned returns send sent receive received wait waited waiting
open opened close closed fix fixed change changed replace replaced help helped
item items box size color colour fit model brand company customer customers people person team manager
owner store online app website site email phone call chat agent experience review reviews star stars
food meal drink coffee room bed car phone laptop screen charger cable shirt dress jacket bag watch
clothes clothing size sizes delivery driver address door home house work office city town
again way thing things lot bit kind sort part problem problems issue issues question questions answer
answers reason result option choice deal offer sale discount free extra total bill invoice receipt
account login update version feature features design style look material materials fabric leather
well better worse never always sometimes often usually ever already soon enough almost nearly
""".split()


def build_vocab() -> list[str]:
    seen: set[str] = set()
    vocab: list[str] = []

    def add(tok: str):
        if tok not in seen:
            seen.add(tok)
            vocab.append(tok)

    for group in (SPECIALS, PUNCT, LETTERS, DIGITS):
        for t in group:
            add(t)
    for t in LETTERS + DIGITS:
        add("##" + t)
    for t in SUFFIXES:
        add(t)
    for t in COMMON:
        if "'" in t:  # BertPreTokenizer splits on punctuation; such entries would be unreachable
            continue
        add(t)
    for t in CUES:  # insertion order of CUES is deterministic
        add(t)
    return vocab


# ---------------------------------------------------------------------------
# Builders
# ---------------------------------------------------------------------------


def build_weights(vocab: list[str]):
    index = {t: i for i, t in enumerate(vocab)}
    heads = {name: (kind, labels, np.zeros((len(vocab), len(labels)), dtype=np.float32),
                    np.asarray(bias, dtype=np.float32))
             for name, kind, labels, bias in HEADS}
    for word, parts in CUES.items():
        row = index[word]
        for head, label, w in parts:
            _, labels, mat, _ = heads[head]
            mat[row, labels.index(label)] += np.float32(w)
    return heads


def build_tokenizer_json(vocab: list[str]) -> str:
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    tok = Tokenizer(models.WordPiece(vocab={t: i for i, t in enumerate(vocab)}, unk_token="[UNK]",
                                     max_input_chars_per_word=100))
    tok.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                strip_accents=None, lowercase=True)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", vocab.index("[CLS]")), ("[SEP]", vocab.index("[SEP]"))],
    )
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tok.add_special_tokens(SPECIALS)
    tok.no_padding()
    tok.no_truncation()
    # Re-dump through json so the layout does not depend on the library's pretty printer.
    data = json.loads(tok.to_str())
    model = data["model"]
    assert model["type"] == "WordPiece" and model["continuing_subword_prefix"] == "##"
    assert data["padding"] is None and data["truncation"] is None
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def build_onnx(heads) -> bytes:
    graph_inputs = [
        helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "sequence"]),
        helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "sequence"]),
    ]
    inits = [
        numpy_helper.from_array(np.asarray([1], dtype=np.int64), "axis_seq"),
        numpy_helper.from_array(np.asarray([-1], dtype=np.int64), "axis_last"),
        numpy_helper.from_array(np.asarray(1.0, dtype=np.float32), "one"),
    ]
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["mask_f"], name="mask_cast", to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["mask_f", "axis_last"], ["mask_u"], name="mask_unsqueeze"),
        helper.make_node("ReduceSum", ["mask_f", "axis_seq"], ["mask_len"], name="mask_len", keepdims=1),
        helper.make_node("Max", ["mask_len", "one"], ["denom"], name="mask_len_clamp"),
    ]
    outputs = []
    for name, (kind, labels, mat, bias) in heads.items():
        inits.append(numpy_helper.from_array(mat, f"{name}.weight"))
        inits.append(numpy_helper.from_array(bias, f"{name}.bias"))
        nodes += [
            helper.make_node("Gather", [f"{name}.weight", "input_ids"], [f"{name}.tok"], name=f"{name}.gather", axis=0),
            helper.make_node("Mul", [f"{name}.tok", "mask_u"], [f"{name}.masked"], name=f"{name}.mask"),
            helper.make_node("ReduceSum", [f"{name}.masked", "axis_seq"], [f"{name}.sum"], name=f"{name}.sum", keepdims=0),
            helper.make_node("Div", [f"{name}.sum", "denom"], [f"{name}.mean"], name=f"{name}.mean"),
            helper.make_node("Add", [f"{name}.mean", f"{name}.bias"], [f"{name}.logits"], name=f"{name}.logits"),
        ]
        if kind == "single_label":
            nodes.append(helper.make_node("Softmax", [f"{name}.logits"], [name], name=f"{name}.softmax", axis=-1))
        else:
            nodes.append(helper.make_node("Sigmoid", [f"{name}.logits"], [name], name=f"{name}.sigmoid"))
        outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", len(labels)]))

    graph = helper.make_graph(nodes, "cxpulse_tiny_test", graph_inputs, outputs, initializer=inits,
                              doc_string="Hand-set bag-of-words plumbing model; not a real classifier")
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="cxpulse-make_tiny_model", producer_version="1",
                              doc_string="cxpulse tiny-test model (hand-set weights, no training)")
    model.ir_version = IR_VERSION
    model.model_version = 1
    helper.set_model_props(model, {"cxpulse.name": "tiny-test", "cxpulse.version": "1"})
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString(deterministic=True)


def build_labels_json() -> str:
    heads = []
    for name, kind, labels, _ in HEADS:
        h: dict = {"name": name, "output": name, "kind": kind, "labels": list(labels)}
        if kind != "single_label":
            h["thresholds"] = [0.5] * len(labels)
        if name == "emotions":
            h["groups"] = {"ekman": EKMAN}
        heads.append(h)
    doc = {
        "name": "tiny-test",
        "version": "1",
        "description": "Hand-set bag-of-words plumbing model for tests; not a real classifier",
        "max_length": MAX_LENGTH,
        "languages": ["en"],
        "inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
        "heads": heads,
    }
    return json.dumps(doc, indent=2) + "\n"


README = """\
# tiny-test — hand-set plumbing model

**Not a real classifier.** This is a tiny bag-of-words ONNX model whose weights were
written by hand in `scripts/make_tiny_model.py`. It was not trained and no data of any
kind went into it. It exists so that the cxpulse test suite, and the daemon until the
trained CX model ships, have a small, fast, deterministic model with exactly the same
input/output contract as the real one.

## Files

| file | what |
|---|---|
| `model.onnx` | ONNX opset 17 (IR 8), ~100 KB, float32 |
| `tokenizer.json` | HuggingFace `tokenizers` JSON: BERT-style uncased WordPiece, about 500 tokens; `[CLS] … [SEP]` template, no padding or truncation configured |
| `labels.json` | heads, label names, thresholds, Ekman grouping of the emotions, `max_length` 128 |
| `SHA256SUMS` | `sha256sum -c` list for the three files above (checked by `scripts/setup.sh`) |

## Contract

Inputs `input_ids` and `attention_mask`, int64 `[batch, sequence]`. One float32
`[batch, n_labels]` output per head, named as the head:

| head | kind | labels |
|---|---|---|
| `emotions` | multi_label (sigmoid) | the 28 GoEmotions labels, GoEmotions order |
| `sentiment` | single_label (softmax) | negative, neutral, positive, mixed |
| `touchpoints` | multi_label (sigmoid) | product, service, price, delivery, support, advertising, place |
| `brand_authenticity` | single_label (softmax) | genuine, fake, none |
| `machine_generated` | score (sigmoid) | machine_generated |
| `deceptive` | score (sigmoid) | deceptive |

## How it computes

For each head: `act(mean over unmasked tokens of W_head[token] + bias)`. Only cue words
have non-zero rows; `[CLS]`, `[SEP]`, `[UNK]` and other words count in the mean but add
nothing. A primary cue word adds +40 to a label's logit, a secondary one +20; the
sigmoid heads have bias -2.5 (≈0.076 with no cue), so one primary cue in a text of N
tokens (counting `[CLS]` and `[SEP]`) lifts its label over 0.5 exactly when N < 16.
`sentiment` favours neutral with no cue (bias 2 on neutral); a text with as many positive
as negative cue words comes out `mixed`. `brand_authenticity` favours `none` (bias 2).
An empty text (`[CLS] [SEP]` only) returns the biases' activations.

Examples of cues: love/great/amazing/excellent/perfect/happy → joy, admiration (love →
love), positive; terrible/awful/angry/furious/worst → anger, annoyance, negative;
disappointed/disappointing/letdown → disappointment, sadness, negative; thanks → gratitude;
scared/afraid → fear; wow/surprised → surprise; delivery/shipping/courier/arrived/late/package
→ delivery; price/expensive/cheap/money/cost → price; staff/service/waiter/rude → service;
support/refund/warranty/helpdesk → support; ad/ads/advert/marketing/campaign → advertising;
store/shop/atmosphere/place → place; quality/product/shoes/battery/broke → product;
scam/fake/hype/greenwashing/spin → fake; genuine/honest/authentic/caring/real → genuine;
delve/overall/highly/recommend/furthermore → machine_generated; husband/wife/vacation/luxury
→ deceptive. The full list is `CUES` in the script.

## Limits

No negation, no word order, no context, English only, tiny vocabulary (unknown words fall
back to letter pieces and carry no weight). Its scores say nothing about real text; use it
for plumbing, tests and benchmarks of everything around the model, never for results.

## Regenerate

```sh
pip install -r scripts/requirements-tiny.txt && python3 scripts/make_tiny_model.py
```

The output is byte-for-byte deterministic with the pinned requirements; the script ends
with a self-check in onnxruntime and rewrites `SHA256SUMS`.
"""


# ---------------------------------------------------------------------------
# Self-check
# ---------------------------------------------------------------------------


def self_check(out: Path, heads) -> None:
    import onnxruntime as ort
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    enc = tok.encode("I LOVE the delivery!")
    expect = ["[CLS]", "i", "love", "the", "delivery", "!", "[SEP]"]
    assert enc.tokens == expect, enc.tokens
    unk = tok.encode("Zxqv's ünïcode 10€")
    print(f"check: tokenize 'I LOVE the delivery!' -> {enc.tokens}")
    print(f"check: tokenize \"Zxqv's ünïcode 10€\" -> {unk.tokens}")
    assert tok.encode("").tokens == ["[CLS]", "[SEP]"]

    labels_doc = json.loads((out / "labels.json").read_text())
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(str(out / "model.onnx"), so, providers=["CPUExecutionProvider"])
    assert [o.name for o in sess.get_outputs()] == [h["output"] for h in labels_doc["heads"]]
    assert [i.name for i in sess.get_inputs()] == ["input_ids", "attention_mask"]

    def run(texts):
        encs = [tok.encode(t) for t in texts]
        n = max(len(e.ids) for e in encs)
        ids = np.zeros((len(encs), n), dtype=np.int64)
        mask = np.zeros((len(encs), n), dtype=np.int64)
        for i, e in enumerate(encs):
            ids[i, :len(e.ids)] = e.ids
            mask[i, :len(e.ids)] = 1
        outs = sess.run(None, {"input_ids": ids, "attention_mask": mask})
        return dict(zip([o.name for o in sess.get_outputs()], outs)), ids, mask

    def reference(ids, mask):  # numpy mirror of the graph
        res = {}
        m = mask.astype(np.float32)
        denom = np.maximum(m.sum(1, keepdims=True), 1.0)
        for name, (kind, _, mat, bias) in heads.items():
            z = (mat[ids] * m[..., None]).sum(1) / denom + bias
            if kind == "single_label":
                e = np.exp(z - z.max(-1, keepdims=True))
                res[name] = e / e.sum(-1, keepdims=True)
            else:
                res[name] = 1.0 / (1.0 + np.exp(-z))
        return res

    texts = ["I love these shoes", "The delivery was terrible and late", "Great support, thanks!", ""]
    batch, ids, mask = run(texts)
    ref = reference(ids, mask)
    for name in batch:
        assert batch[name].shape == (len(texts), len(heads[name][1])), (name, batch[name].shape)
        np.testing.assert_allclose(batch[name], ref[name], rtol=1e-5, atol=1e-6)
    # padding must not change results: each text alone == the same text in a padded batch
    for i, t in enumerate(texts):
        single, _, _ = run([t])
        for name in batch:
            np.testing.assert_allclose(single[name][0], batch[name][i], rtol=1e-6, atol=1e-7)
    # all-zero mask (a fully padded row) must not produce NaN
    zero = sess.run(None, {"input_ids": np.zeros((1, 4), np.int64), "attention_mask": np.zeros((1, 4), np.int64)})
    assert all(np.isfinite(o).all() for o in zero)

    def get(res, i, head, label):
        return float(res[head][i][heads[head][1].index(label)])

    def argmax(res, i, head):
        return heads[head][1][int(np.argmax(res[head][i]))]

    for i, t in enumerate(texts):
        print(f"\ncheck: {t!r} tokens={tok.encode(t).tokens}")
        for name, (kind, labels, _, _) in heads.items():
            vals = batch[name][i]
            if kind == "single_label":
                shown = ", ".join(f"{l}={v:.3f}" for l, v in zip(labels, vals))
                print(f"  {name:<18} argmax={argmax(batch, i, name):<9} {shown}")
            else:
                top = sorted(zip(labels, vals), key=lambda x: -x[1])
                shown = ", ".join(f"{l}={v:.3f}" for l, v in top if v >= 0.5) or "(none >= 0.5)"
                print(f"  {name:<18} max={top[0][0]}={top[0][1]:.3f}  over 0.5: {shown}")

    r = batch
    assert get(r, 0, "emotions", "joy") > 0.5 and argmax(r, 0, "sentiment") == "positive"
    assert get(r, 0, "touchpoints", "product") > 0.5
    assert get(r, 1, "emotions", "anger") > 0.5 and get(r, 1, "touchpoints", "delivery") > 0.5
    assert argmax(r, 1, "sentiment") == "negative"
    assert get(r, 2, "touchpoints", "support") > 0.5 and get(r, 2, "emotions", "gratitude") > 0.5
    assert argmax(r, 2, "sentiment") == "positive"
    # empty text: only biases -> everything low, sentiment neutral, authenticity none
    assert all(float(r[n][3].max()) < 0.1 for n, h in heads.items() if h[0] != "single_label")
    assert argmax(r, 3, "sentiment") == "neutral" and argmax(r, 3, "brand_authenticity") == "none"
    more, _, _ = run(["Great shoes but terrible delivery", "This is a scam", "Overall, I highly recommend it",
                      "My husband and I loved our luxury vacation"])
    assert argmax(more, 0, "sentiment") == "mixed"
    assert argmax(more, 1, "brand_authenticity") == "fake"
    assert get(more, 2, "machine_generated", "machine_generated") > 0.5
    assert get(more, 3, "deceptive", "deceptive") > 0.5
    print("\ncheck: ok")


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    ap.add_argument("--no-check", action="store_true", help="skip the onnxruntime self-check")
    args = ap.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    vocab = build_vocab()
    heads = build_weights(vocab)
    files = {
        "labels.json": build_labels_json().encode(),
        "model.onnx": build_onnx(heads),
        "tokenizer.json": build_tokenizer_json(vocab).encode(),
        "README.md": README.encode(),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    sums = "".join(f"{sha256(out / n)}  {n}\n" for n in ("labels.json", "model.onnx", "tokenizer.json"))
    (out / "SHA256SUMS").write_text(sums)
    print(f"wrote {out} (vocab {len(vocab)} tokens, {len(CUES)} cue words, model.onnx {len(files['model.onnx'])} bytes)")
    print(sums, end="")
    if not args.no_check:
        self_check(out, heads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
