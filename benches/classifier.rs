//! Classifier speed: texts/s and peak RSS of the cxpulse classifier (Rust, ort) on a file of
//! texts, for scripts/bench_classifier.sh, which runs the Python peers on the same texts.
//! Under `cargo test` (no `--bench` argument) it runs a few texts through the tiny model only.

use std::path::PathBuf;
use std::time::Instant;

use cxpulse::config::ModelConfig;
use cxpulse::ingest::classifier::Classifier;

fn arg(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmHWM:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<f64>().ok())
            })
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let model = arg("--model")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo.join("models/tiny-test"));
    let texts: Vec<String> = match arg("--texts") {
        Some(p) => std::fs::read_to_string(p)
            .expect("texts file")
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("JSON line")["text"]
                    .as_str()
                    .expect("text field")
                    .to_string()
            })
            .collect(),
        None => (0..40)
            .map(|i| format!("I love these shoes, but delivery {i} was late"))
            .collect(),
    };
    let threads: usize = arg("--threads").and_then(|t| t.parse().ok()).unwrap_or(2);
    let batch: usize = arg("--batch").and_then(|t| t.parse().ok()).unwrap_or(32);
    let cfg = ModelConfig {
        dir: model.clone(),
        batch_size: batch,
        threads,
        ort_dylib_path: None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let classifier = Classifier::start(&cfg).expect("model loads (run scripts/setup.sh first)");
    let warm: Vec<String> = texts.iter().take(64).cloned().collect();
    rt.block_on(classifier.classify_all(warm)).unwrap();
    let t = Instant::now();
    let mut n = 0;
    // Chunks of 256, as the pipeline and `eval` send them.
    for chunk in texts.chunks(256) {
        n += rt
            .block_on(classifier.classify_all(chunk.to_vec()))
            .unwrap()
            .len();
    }
    let secs = t.elapsed().as_secs_f64();
    assert_eq!(n, texts.len());
    let line = serde_json::json!({
        "impl": "cxpulse (rust, ort)",
        "model": model.file_name().map(|f| f.to_string_lossy().to_string()),
        "texts": n,
        "seconds": (secs * 1000.0).round() / 1000.0,
        "texts_per_s": ((n as f64 / secs) * 10.0).round() / 10.0,
        "peak_rss_mb": (peak_rss_mb() * 10.0).round() / 10.0,
    });
    println!("{line}");
    if !full {
        assert!(n > 0);
    }
}
