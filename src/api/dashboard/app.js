// cxpulse dashboard: reads the daemon's own API and draws SVG charts. No dependencies, no
// network beyond this origin. Every customer text goes into the page as text (textContent,
// setAttribute), never as markup. The page's state lives in the URL, so a view can be shared.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const W = 640, H = 220, PAD = { l: 40, r: 10, t: 10, b: 24 };
const PALETTE = ["#3b6ea8", "#d1495b", "#edae49", "#00798c", "#66a182", "#8d6a9f", "#c36f09",
  "#2e4057", "#b5838d", "#6d597a", "#e07a5f", "#81b29a"];
const TOP_EMOTIONS = 8;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined && text !== null) e.textContent = String(text);
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function fmt(x, digits) {
  return x === null || x === undefined || Number.isNaN(x) ? "–" : Number(x).toFixed(digits);
}

function day(iso) {
  return iso ? iso.slice(0, 10) : "";
}

// --- state in the URL -------------------------------------------------------------------
const KEYS = ["product", "from", "to", "interval", "emotion", "touchpoint", "source", "suspicious"];

function readState() {
  const q = new URLSearchParams(location.search);
  const s = {};
  for (const k of KEYS) s[k] = q.get(k) || "";
  if (!s.interval) s.interval = "day";
  if (!s.to) s.to = new Date().toISOString().slice(0, 10);
  if (!s.from) {
    const d = new Date(s.to + "T00:00:00Z");
    d.setUTCDate(d.getUTCDate() - 90);
    s.from = d.toISOString().slice(0, 10);
  }
  return s;
}

function writeState(s) {
  const q = new URLSearchParams();
  for (const k of KEYS) if (s[k]) q.set(k, s[k]);
  history.replaceState(null, "", "?" + q.toString());
}

// --- API ---------------------------------------------------------------------------------
async function api(path) {
  const r = await fetch("/api/v1" + path, { headers: { Accept: "application/json" } });
  if (!r.ok) {
    let msg = r.status + "";
    try { const b = await r.json(); msg = b.code + ": " + b.message; } catch (_) { /* not JSON */ }
    throw new Error(msg);
  }
  return r.json();
}

function rangeQuery(s) {
  // `to` is a day: include it whole.
  const to = new Date(s.to + "T00:00:00Z");
  to.setUTCDate(to.getUTCDate() + 1);
  return "from=" + encodeURIComponent(s.from) + "&to=" + encodeURIComponent(to.toISOString().slice(0, 10));
}

// --- charts ------------------------------------------------------------------------------
function frame(container, label) {
  container.replaceChildren();
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": label });
  container.appendChild(svg);
  return svg;
}

function xAxis(svg, buckets) {
  if (!buckets.length) return;
  const y = H - 6;
  const first = svgEl("text", { x: PAD.l, y, "text-anchor": "start" });
  first.textContent = day(buckets[0]);
  const last = svgEl("text", { x: W - PAD.r, y, "text-anchor": "end" });
  last.textContent = day(buckets[buckets.length - 1]);
  svg.append(first, last);
}

function yLabel(svg, value, y) {
  const t = svgEl("text", { x: PAD.l - 4, y: y + 3, "text-anchor": "end" });
  t.textContent = value;
  svg.appendChild(t);
  svg.appendChild(svgEl("line", { x1: PAD.l, x2: W - PAD.r, y1: y, y2: y, stroke: "#eee" }));
}

function legend(container, series) {
  container.replaceChildren();
  for (const s of series) {
    const item = el("span", {});
    const sw = el("i", {});
    sw.style.background = s.color;
    item.append(sw, document.createTextNode(s.name));
    container.appendChild(item);
  }
}

// Stacked bars; with `percent`, values are shares (0–1) and the axis runs to 100%.
function stackedBars(container, buckets, series, opts) {
  const svg = frame(container, opts.label);
  const n = buckets.length;
  if (!n) return;
  const totals = buckets.map((_, i) => series.reduce((a, s) => a + (s.values[i] || 0), 0));
  const max = opts.percent ? 1 : Math.max(1, ...totals);
  const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
  const bw = Math.max(1, iw / n - 1);
  yLabel(svg, opts.percent ? "100%" : String(max), PAD.t);
  yLabel(svg, "0", PAD.t + ih);
  for (let i = 0; i < n; i++) {
    let y = PAD.t + ih;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v <= 0) continue;
      const h = (v / max) * ih;
      y -= h;
      const r = svgEl("rect", {
        x: (PAD.l + (i * iw) / n).toFixed(2), y: y.toFixed(2), width: bw.toFixed(2), height: h.toFixed(2),
        fill: s.color, "data-series": s.name, "data-bucket": buckets[i], "data-value": v,
      });
      const t = svgEl("title", {});
      t.textContent = `${day(buckets[i])} · ${s.name}: ${opts.percent ? fmt(v * 100, 1) + "%" : v}`;
      r.appendChild(t);
      svg.appendChild(r);
    }
  }
  xAxis(svg, buckets);
}

// Lines over [min, max]; null values leave gaps.
function lines(container, buckets, series, opts) {
  const svg = frame(container, opts.label);
  const n = buckets.length;
  if (!n) return;
  const iw = W - PAD.l - PAD.r, ih = H - PAD.t - PAD.b;
  const x = (i) => PAD.l + (n === 1 ? iw / 2 : (i * iw) / (n - 1));
  const y = (v) => PAD.t + ih - ((v - opts.min) / (opts.max - opts.min)) * ih;
  yLabel(svg, opts.maxLabel, PAD.t);
  yLabel(svg, opts.minLabel, PAD.t + ih);
  for (const s of series) {
    let d = "";
    let pen = false;
    s.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += (pen ? "L" : "M") + x(i).toFixed(2) + " " + y(v).toFixed(2);
      pen = true;
      const c = svgEl("circle", {
        cx: x(i).toFixed(2), cy: y(v).toFixed(2), r: 2, fill: s.color,
        "data-series": s.name, "data-bucket": buckets[i], "data-value": v,
      });
      const t = svgEl("title", {});
      t.textContent = `${day(buckets[i])} · ${s.name}: ${fmt(v, 2)}`;
      c.appendChild(t);
      svg.appendChild(c);
    });
    svg.insertBefore(svgEl("path", { d, fill: "none", stroke: s.color, "stroke-width": 1.5 }), svg.firstChild);
  }
  xAxis(svg, buckets);
}

function hbars(container, items, label) {
  container.replaceChildren();
  const rowH = 22;
  const h = Math.max(rowH, items.length * rowH + 4);
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${h}`, role: "img", "aria-label": label });
  container.appendChild(svg);
  const max = Math.max(0.0001, ...items.map((i) => i.value));
  items.forEach((it, k) => {
    const y = k * rowH + 2;
    const name = svgEl("text", { x: 110, y: y + 14, "text-anchor": "end" });
    name.textContent = it.name;
    const w = ((W - 180) * it.value) / max;
    const bar = svgEl("rect", {
      x: 116, y, width: w.toFixed(2), height: rowH - 6, fill: PALETTE[0],
      "data-series": it.name, "data-value": it.value,
    });
    const val = svgEl("text", { x: 120 + w, y: y + 14 });
    val.textContent = fmt(it.value * 100, 1) + "%";
    svg.append(name, bar, val);
  });
}

// --- rendering ---------------------------------------------------------------------------
function kpis(t) {
  const box = $("kpis");
  box.replaceChildren();
  const tot = t.total;
  const a = tot.authenticity || {};
  const add = (value, what) => {
    const k = el("div", { class: "kpi" });
    k.append(el("b", {}, value), el("span", {}, what));
    box.appendChild(k);
  };
  add(tot.volume, "posts in range");
  add(fmt(tot.sentiment_index, 2), "sentiment index");
  add(fmt(a.index, 0), "Authenticity Index");
  add(a.suspicious_share === null || a.suspicious_share === undefined ? "–" : fmt(a.suspicious_share * 100, 1) + "%", "suspicious reviews");
  add(fmt(tot.rating_avg === null ? null : tot.rating_avg * 5, 1), "average rating (of 5)");
}

function emotionSeries(t) {
  const em = (t.labels && t.labels.emotions) || {};
  const names = Object.keys(em).filter((l) => l !== "neutral");
  const weight = (l) => em[l].dominant.reduce((a, b) => a + b, 0);
  names.sort((a, b) => weight(b) - weight(a));
  const top = names.slice(0, TOP_EMOTIONS);
  const series = top.map((l, i) => ({ name: l, color: PALETTE[i % PALETTE.length], values: em[l].dominant }));
  const rest = names.slice(TOP_EMOTIONS).concat(em.neutral ? ["neutral"] : []);
  if (rest.length) {
    series.push({
      name: "other / neutral", color: "#c8ccd1",
      values: t.buckets.map((_, i) => rest.reduce((a, l) => a + em[l].dominant[i], 0)),
    });
  }
  return series;
}

async function drawCharts(s, product) {
  const base = `/products/${encodeURIComponent(s.product)}/trends?${rangeQuery(s)}&interval=${s.interval}`;
  const t = await api(base);
  kpis(t);
  const emo = emotionSeries(t);
  stackedBars($("chart-emotions"), t.buckets, emo, { percent: true, label: "emotion mix" });
  legend($("legend-emotions"), emo);
  lines($("chart-sentiment"), t.buckets, [{ name: "sentiment", color: PALETTE[0], values: t.sentiment_index }],
    { min: -1, max: 1, minLabel: "−1", maxLabel: "+1", label: "sentiment index" });
  const auth = [
    { name: "Authenticity Index / 100", color: PALETTE[3], values: t.authenticity.index.map((v) => (v === null ? null : v / 100)) },
    { name: "suspicious share", color: PALETTE[1], values: t.authenticity.suspicious_share },
  ];
  lines($("chart-authenticity"), t.buckets, auth, { min: 0, max: 1, minLabel: "0", maxLabel: "100 / 100%", label: "authenticity" });
  legend($("legend-authenticity"), auth);
  const tp = (t.total.labels && t.total.labels.touchpoints) || {};
  const items = Object.entries(tp).map(([name, st]) => ({ name, value: st.share })).sort((a, b) => b.value - a.value);
  hbars($("chart-touchpoints"), items, "touchpoints");

  const sources = product.sources.map((x) => x.name);
  const perSource = await Promise.all(sources.map((src) =>
    api(base + "&source=" + encodeURIComponent(src)).then((r) => r.volume).catch(() => t.buckets.map(() => 0))));
  const vol = sources.map((name, i) => ({ name, color: PALETTE[i % PALETTE.length], values: perSource[i] }));
  // Posts sent through the API or imported carry their own source names: show them as one band.
  const other = t.volume.map((v, i) => v - vol.reduce((a, x) => a + (x.values[i] || 0), 0));
  if (other.some((v) => v > 0)) vol.push({ name: "other (API, imports)", color: "#c8ccd1", values: other.map((v) => Math.max(0, v)) });
  stackedBars($("chart-volume"), t.buckets, vol, { percent: false, label: "volume by source" });
  legend($("legend-volume"), vol);
  return t;
}

function fillSelect(select, values, current) {
  const keep = select.options[0];
  select.replaceChildren(keep);
  for (const v of values) select.appendChild(el("option", { value: v }, v));
  select.value = values.includes(current) ? current : "";
}

function labelsOf(post, head) {
  const h = post.classification && post.classification.heads && post.classification.heads[head];
  return h && h.labels ? h.labels.map((l) => ({ label: l, score: h.scores ? h.scores[l] : undefined })) : [];
}

function postRow(p) {
  const tr = el("tr", { "data-id": p.id, "data-source": p.source, "data-suspicious": String(p.suspicious) });
  tr.appendChild(el("td", {}, (p.published || "").replace("T", " ").slice(0, 16)));
  tr.appendChild(el("td", {}, p.source));
  const text = el("td", { class: "text", dir: "auto" });
  if (p.title) text.appendChild(el("span", { class: "title" }, p.title));
  text.appendChild(el("span", { class: "body" }, p.text));
  if (p.url && /^https?:\/\//i.test(p.url)) {
    text.appendChild(document.createTextNode(" "));
    text.appendChild(el("a", { href: p.url, rel: "noopener noreferrer nofollow", target: "_blank" }, "original"));
  }
  tr.appendChild(text);
  const labels = el("td", {});
  for (const head of ["emotions", "touchpoints"]) {
    for (const l of labelsOf(p, head)) {
      labels.appendChild(el("span", { class: "tag", "data-head": head, "data-label": l.label },
        l.label + (l.score === undefined ? "" : " " + fmt(l.score, 2))));
    }
  }
  if (!labels.childNodes.length) labels.appendChild(el("span", { class: "note" }, p.language === "en" ? "no label over threshold" : "not scored (" + p.language + ")"));
  tr.appendChild(labels);
  const auth = el("td", {});
  auth.appendChild(el("span", { class: "tag " + (p.suspicious ? "warn" : "ok") },
    (p.suspicious ? "suspicious" : "genuine") + " " + fmt(p.genuineness, 2)));
  for (const sig of p.signals || []) {
    auth.appendChild(el("span", { class: "tag warn", "data-signal": sig.kind }, sig.kind + " " + fmt(sig.score, 2)));
    if (sig.evidence && sig.evidence.detail) auth.appendChild(el("span", { class: "evidence" }, sig.evidence.detail));
  }
  tr.appendChild(auth);
  return tr;
}

async function drawPosts(s) {
  let q = `/products/${encodeURIComponent(s.product)}/posts?${rangeQuery(s)}&limit=100`;
  // The API filters by one label: the emotion when set, else the touchpoint; the other is
  // applied here.
  if (s.emotion) q += "&label=" + encodeURIComponent("emotions." + s.emotion);
  else if (s.touchpoint) q += "&label=" + encodeURIComponent("touchpoints." + s.touchpoint);
  if (s.source) q += "&source=" + encodeURIComponent(s.source);
  if (s.suspicious) q += "&suspicious=" + s.suspicious;
  const r = await api(q);
  let posts = r.posts;
  if (s.emotion && s.touchpoint) posts = posts.filter((p) => labelsOf(p, "touchpoints").some((l) => l.label === s.touchpoint));
  const body = $("posts").tBodies[0];
  body.replaceChildren(...posts.map(postRow));
  $("posts-note").textContent = posts.length
    ? `${posts.length} post(s), newest first${r.next_cursor ? " (more in the API)" : ""}.`
    : "No post matches these filters in this range.";
}

async function showDigest(product, entry, frameBox) {
  const r = await fetch(`/api/v1/products/${encodeURIComponent(product)}/digests/${entry.date}?format=html`);
  const html = await r.text();
  // The digest is e-mail HTML with its customer text escaped; a sandbox without scripts
  // keeps it inert all the same.
  const frameEl = el("iframe", { sandbox: "", title: "digest " + entry.date, "data-date": entry.date });
  frameEl.srcdoc = html;
  const states = entry.deliveries.map((d) => `${d.name}: ${d.state}`).join(", ");
  frameBox.replaceChildren(el("p", { class: "note" }, states ? "Delivered to " + states : "Stored, not delivered (no [[deliver]] configured)."), frameEl);
}

async function drawDigest(s) {
  const box = $("digests");
  const list = await api(`/products/${encodeURIComponent(s.product)}/digests`);
  if (!list.digests.length) {
    box.replaceChildren(el("p", { class: "note" }, "No digest stored yet: the daemon writes one every morning (digest.send_at)."));
    return;
  }
  const recent = list.digests.slice(0, 30);
  const pick = el("select", { id: "digest-date", "aria-label": "digest date" });
  for (const d of recent) pick.appendChild(el("option", { value: d.date }, d.date));
  const frameBox = el("div", {});
  pick.addEventListener("change", () => {
    const entry = recent.find((d) => d.date === pick.value);
    if (entry) showDigest(s.product, entry, frameBox);
  });
  const label = el("label", {}, "Day ");
  label.appendChild(pick);
  box.replaceChildren(label, frameBox);
  await showDigest(s.product, recent[0], frameBox);
}

// --- wiring ------------------------------------------------------------------------------
let products = [];
let generation = 0;

function status(text, error) {
  const p = $("status");
  p.textContent = text;
  p.className = error ? "error" : "";
}

async function refresh() {
  const s = readState();
  const product = products.find((p) => p.id === s.product) || products[0];
  if (!product) { status("No product is configured.", true); return; }
  s.product = product.id;
  writeState(s);
  for (const k of ["product", "from", "to", "interval"]) $(k).value = s[k];
  $("f-suspicious").value = s.suspicious;
  const mine = ++generation;
  document.body.dataset.ready = "false";
  status("Loading " + product.name + "…");
  try {
    const t = await drawCharts(s, product);
    if (mine !== generation) return;
    const emotions = Object.keys((t.labels && t.labels.emotions) || {}).sort();
    const touchpoints = Object.keys((t.labels && t.labels.touchpoints) || {}).sort();
    fillSelect($("f-emotion"), emotions, s.emotion);
    fillSelect($("f-touchpoint"), touchpoints, s.touchpoint);
    fillSelect($("f-source"), product.sources.map((x) => x.name), s.source);
    await drawPosts(s);
    await drawDigest(s).catch((e) => $("digests").replaceChildren(el("p", { class: "note" }, "Digest unavailable: " + e.message)));
    if (mine !== generation) return;
    status(`${product.name} · ${s.from} to ${s.to} · by ${s.interval}`);
    document.body.dataset.ready = "true";
  } catch (e) {
    if (mine === generation) status("Could not load: " + e.message, true);
  }
}

function onChange(ev) {
  const s = readState();
  const f = ev.target;
  s[f.name] = f.value;
  writeState(s);
  refresh();
}

async function main() {
  try {
    products = (await api("/products")).products;
  } catch (e) {
    status("Could not reach the API: " + e.message, true);
    return;
  }
  const sel = $("product");
  for (const p of products) sel.appendChild(el("option", { value: p.id }, p.name));
  for (const f of document.querySelectorAll("#controls select, #controls input, #filters select")) {
    f.addEventListener("change", onChange);
  }
  refresh();
}

main();
