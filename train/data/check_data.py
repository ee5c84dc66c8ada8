#!/usr/bin/env python3
"""Validate brand_authenticity.jsonl and touchpoints_extra.jsonl (stdlib only).

Checks: valid JSON per line, schema/allowed values, unique ids, exactly 20% dev,
label/category/channel/split counts, word-length distribution, and near-duplicates
(Jaccard similarity of word 3-shingles > 0.5, within and across both files).
Exit status 1 if any check fails.
"""
import collections, itertools, json, os, re, statistics, sys

HERE = os.path.dirname(os.path.abspath(__file__))
BA_KEYS = ["id", "text", "label", "split", "category", "channel", "notes"]
TP_KEYS = ["id", "text", "touchpoints", "split"]
LABELS = {"genuine", "fake", "none"}
CHANNELS = {"review", "social", "forum", "comment"}
TOUCHPOINTS = ["product", "service", "price", "delivery", "support", "advertising", "place"]
errors = []

def load(name, keys, prefix):
    rows = []
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            try:
                r = json.loads(line)
            except json.JSONDecodeError as e:
                errors.append(f"{name}:{n}: invalid JSON ({e})"); continue
            if list(r) != keys:
                errors.append(f"{name}:{n}: keys {list(r)} != {keys}")
            if not re.fullmatch(prefix + r"-\d{4}", str(r.get("id"))):
                errors.append(f"{name}:{n}: bad id {r.get('id')!r}")
            if r.get("split") not in ("train", "dev"):
                errors.append(f"{name}:{n}: bad split")
            rows.append(r)
    ids = [r["id"] for r in rows]
    for i, c in collections.Counter(ids).items():
        if c > 1: errors.append(f"{name}: duplicate id {i}")
    dev = sum(r["split"] == "dev" for r in rows)
    if dev * 5 != len(rows):
        errors.append(f"{name}: dev={dev} is not exactly 20% of {len(rows)}")
    return rows

def words(t):
    return re.findall(r"[\w']+", t.lower())

def length_report(rows):
    lens = [len(words(r["text"])) for r in rows]
    bins = [(1, 4), (5, 10), (11, 20), (21, 40), (41, 80), (81, 150), (151, 10**6)]
    hist = {f"{a}-{b if b < 10**6 else '+'}": sum(a <= x <= b for x in lens) for a, b in bins}
    return lens, hist

ba = load("brand_authenticity.jsonl", BA_KEYS, "ba")
tp = load("touchpoints_extra.jsonl", TP_KEYS, "tp")

# brand authenticity
for r in ba:
    if r["label"] not in LABELS: errors.append(f"{r['id']}: bad label")
    if r["channel"] not in CHANNELS: errors.append(f"{r['id']}: bad channel")
lens, hist = length_report(ba)
for r, n in zip(ba, lens):
    if not 5 <= n <= 150: errors.append(f"{r['id']}: {n} words (outside 5-150)")
print(f"brand_authenticity.jsonl: {len(ba)} rows")
lab = collections.Counter(r["label"] for r in ba)
print("  labels:", {k: f"{v} ({v/len(ba):.1%})" for k, v in sorted(lab.items())})
print("  split:", dict(collections.Counter(r["split"] for r in ba)))
print("  dev by label:", dict(sorted(collections.Counter(r["label"] for r in ba if r["split"] == "dev").items())))
print("  channels:", dict(sorted(collections.Counter(r["channel"] for r in ba).items())))
cats = collections.Counter(r["category"] for r in ba)
print(f"  categories ({len(cats)}):", dict(sorted(cats.items())))
if len(cats) < 12: errors.append("fewer than 12 categories")
g = collections.Counter((r["label"], r["category"], r["split"]) for r in ba)
devshare = [g[(l, c, "dev")] / (g[(l, c, "dev")] + g[(l, c, "train")]) for l in LABELS for c in cats]
print(f"  dev share per label x category: min {min(devshare):.2f}, max {max(devshare):.2f}")
print(f"  words: min {min(lens)}, median {statistics.median(lens)}, mean {statistics.mean(lens):.1f}, max {max(lens)}; hist {hist}")
print(f"  rows with notes: {sum(bool(r['notes']) for r in ba)}")

# touchpoints
for r in tp:
    t = r["touchpoints"]
    if not isinstance(t, list) or any(x not in TOUCHPOINTS for x in t) or len(set(t)) != len(t):
        errors.append(f"{r['id']}: bad touchpoints {t}")
lens_tp, hist_tp = length_report(tp)
print(f"touchpoints_extra.jsonl: {len(tp)} rows")
print("  split:", dict(collections.Counter(r["split"] for r in tp)))
per = collections.Counter(x for r in tp for x in r["touchpoints"])
print("  per touchpoint:", {k: per[k] for k in TOUCHPOINTS})
multi = sum(len(r["touchpoints"]) > 1 for r in tp); empty = sum(not r["touchpoints"] for r in tp)
print(f"  multi-label: {multi} ({multi/len(tp):.1%}), empty: {empty} ({empty/len(tp):.1%}), single: {len(tp)-multi-empty}")
print(f"  dev per touchpoint:", {k: sum(k in r['touchpoints'] for r in tp if r['split']=='dev') for k in TOUCHPOINTS},
      "dev empty:", sum(not r["touchpoints"] for r in tp if r["split"] == "dev"))
print(f"  words: min {min(lens_tp)}, median {statistics.median(lens_tp)}, max {max(lens_tp)}; hist {hist_tp}")

# the split must follow the documented rule: order by stratum then id, every 5th item is dev
def rule_ok(rows, key):
    order = sorted(rows, key=lambda r: (key(r), r["id"]))
    return all((r["split"] == "dev") == (i % 5 == 4) for i, r in enumerate(order))
if not rule_ok(ba, lambda r: (r["label"], r["category"])):
    errors.append("brand_authenticity: split does not follow the documented stratified rule")
for r in tp:
    if r["touchpoints"] != sorted(r["touchpoints"], key=TOUCHPOINTS.index):
        errors.append(f"{r['id']}: touchpoints not in canonical order")
if not rule_ok(tp, lambda r: ("+".join(r["touchpoints"]) or "~none",)):
    errors.append("touchpoints_extra: split does not follow the documented stratified rule")

# near-duplicates across everything
allrows = ba + tp
sh = []
for r in allrows:
    w = words(r["text"])
    sh.append(set(zip(w, w[1:], w[2:])) if len(w) >= 3 else {tuple(w)})
texts = collections.Counter(" ".join(words(r["text"])) for r in allrows)
for t, c in texts.items():
    if c > 1: errors.append(f"exact duplicate text x{c}: {t[:60]}")
worst = (0.0, None, None)
for i, j in itertools.combinations(range(len(allrows)), 2):
    a, b = sh[i], sh[j]
    if not a or not b: continue
    jac = len(a & b) / len(a | b)
    if jac > worst[0]: worst = (jac, allrows[i]["id"], allrows[j]["id"])
    if jac > 0.5: errors.append(f"near-duplicate {allrows[i]['id']} ~ {allrows[j]['id']} (Jaccard {jac:.2f})")
print(f"max 3-shingle Jaccard over {len(allrows)} texts: {worst[0]:.3f} ({worst[1]} ~ {worst[2]})")

if errors:
    print(f"\n{len(errors)} problem(s):"); [print("  " + e) for e in errors[:50]]; sys.exit(1)
print("\nall checks passed")
