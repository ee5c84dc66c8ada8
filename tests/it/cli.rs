//! The binary as users run it: exit codes, config errors, classify, import/trends/posts/export,
//! SIGTERM shutdown and SIGKILL crash consistency.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::*;

fn write_config(dir: &Path, sources: &str) -> std::path::PathBuf {
    let p = dir.join("cxpulse.toml");
    std::fs::write(&p, config_text(&dir.join("db"), sources)).unwrap();
    p
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .output()
        .expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_config_files_fail_with_exit_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let good = config_text(&dir.path().join("db"), "");
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("[storage]", "[storage]\nsize_gb = 3"),
            "size_gb",
        ),
        (
            good.replace("bind = \"127.0.0.1:0\"", "bind = \"localhost\""),
            "server.bind",
        ),
        (good.replace("threads = 1", "threads = 0"), "model.threads"),
        (
            good.replace("keywords = [\"Acme Phone\", \"Acme\"]", "keywords = []"),
            "products[0].keywords",
        ),
        (
            good.replace("id = \"acme-phone\"", "id = \"Acme Phone!\""),
            "products[0].id",
        ),
        (
            good.replace("api_token = \"", "api_token = \"short\"\n#"),
            "server.api_token",
        ),
        (good.replace("format = ", "formt = ") + "\n[log]\n", "log"),
        (
            good.clone() + "\n[[products.sources]]\nkind = \"rss\"\nurl = \"ftp://x/\"\n",
            "products[0].sources[0].url",
        ),
        (
            good.clone() + "\n[[products.sources]]\nkind = \"carrier-pigeon\"\n",
            "carrier-pigeon",
        ),
        (good.replace("[fetch]", "[fetch\n"), "line"),
    ];
    for (i, (text, needle)) in cases.iter().enumerate() {
        let p = dir.path().join(format!("bad{i}.toml"));
        std::fs::write(&p, text).unwrap();
        let (code, _, err) = run(&["--config", p.to_str().unwrap(), "check-config"]);
        assert_eq!(code, 2, "case {i}: {err}");
        assert!(err.contains(needle), "case {i}: `{needle}` not in: {err}");
    }
    // A missing file is a config error too; a usage error is 2 as well.
    assert_eq!(run(&["--config", "/nonexistent.toml", "check-config"]).0, 2);
    assert_eq!(run(&["no-such-command"]).0, 2);
}

#[test]
fn check_config_masks_secrets_and_applies_env_and_cli_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let out = Command::new(bin())
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "check-config",
            "--bind",
            "127.0.0.1:9999",
        ])
        .env("CXPULSE_SERVER_BIND", "127.0.0.1:8888")
        .env("CXPULSE_MODEL_BATCH_SIZE", "4")
        .output()
        .unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(
        s.contains("bind = \"127.0.0.1:9999\""),
        "CLI beats env: {s}"
    );
    assert!(s.contains("batch_size = 4"), "env beats file: {s}");
    assert!(
        !s.contains(TOKEN) && !s.contains("test-salt-123"),
        "secrets leaked: {s}"
    );
}

#[test]
fn classify_prints_one_json_line_per_input_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let (code, out, err) = run(&[
        "--config",
        cfg.to_str().unwrap(),
        "classify",
        "I love these shoes",
    ]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert!(v["heads"]["emotions"]["labels"]
        .as_array()
        .unwrap()
        .contains(&"joy".into()));

    let mut child = Proc::new(
        Command::new(bin())
            .args(["--config", cfg.to_str().unwrap(), "classify"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let long = "terrible ".repeat(5000);
    let input = format!("The delivery was terrible and late\nGreat support, thanks!\n\n{long}\n");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.output();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines.len(),
        4,
        "one result per line, empty and very long ones included"
    );
    assert_eq!(lines[0]["heads"]["sentiment"]["labels"][0], "negative");
    assert!(lines[1]["heads"]["touchpoints"]["labels"]
        .as_array()
        .unwrap()
        .contains(&"support".into()));
    assert_eq!(
        lines[3]["heads"]["sentiment"]["labels"][0], "negative",
        "long text truncated, not a crash"
    );
}

/// Runs the binary with `--config cfg` and whitespace-separated `args`.
fn cx(cfg: &str, args: &str) -> (i32, String, String) {
    let mut all = vec!["--config", cfg];
    all.extend(args.split_whitespace());
    run(&all)
}

fn write_rows(path: &Path, n: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    for i in 0..n {
        writeln!(
            f,
            "{{\"id\":\"row-{i}\",\"text\":\"Acme Phone note {i}: {}\",\"published\":\"2026-{:02}-{:02}T{:02}:00:00Z\",\"rating\":{},\"author\":\"user{}\"}}",
            ["I love it", "delivery was late", "great support, thanks", "too expensive", "it is fine"][i % 5],
            1 + (i / 28) % 11,
            1 + i % 28,
            i % 24,
            1 + i % 5,
            i % 97
        )
        .unwrap();
    }
}

#[test]
fn import_trends_posts_export_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let cfg = cfg.to_str().unwrap();
    let data = dir.path().join("rows.jsonl");
    write_rows(&data, 500);
    let (code, out, err) = cx(
        cfg,
        &format!("import --product acme-phone {}", data.to_str().unwrap()),
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("500 stored"), "{out}");
    // Again: resumable and idempotent.
    let (code, out, _) = cx(
        cfg,
        &format!("import --product acme-phone {}", data.to_str().unwrap()),
    );
    assert_eq!(code, 0);
    assert!(out.contains("0 stored"), "{out}");

    let (code, out, err) = cx(cfg, "trends --product acme-phone --from 2026-01-01 --to 2026-12-01 --interval month --label touchpoints.delivery");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("total: 500 posts"), "{out}");
    assert!(out.contains("2026-01-01T00:00:00Z"), "{out}");

    let (code, out, _) = cx(cfg, "posts --product acme-phone --from 2026-01-01 --to 2026-12-01 --label touchpoints.delivery --limit 500 --json");
    assert_eq!(code, 0);
    assert_eq!(
        out.lines().count(),
        100,
        "every fifth row is about a late delivery"
    );

    let csv_path = dir.path().join("out.csv");
    let (code, _, err) = cx(
        cfg,
        &format!(
            "export --product acme-phone --from 2026-01-01 --to 2026-12-01 --format csv -o {}",
            csv_path.to_str().unwrap()
        ),
    );
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    let headers = r.headers().unwrap().clone();
    assert!(headers.iter().any(|h| h == "emotions.joy"));
    assert_eq!(r.records().count(), 500);
    let (code, out, _) = cx(
        cfg,
        "export --product acme-phone --from 2026-01-01 --format jsonl",
    );
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 500);

    let (code, out, err) = cx(
        cfg,
        "authenticity --product acme-phone --from 2026-01-01 --to 2026-12-01 --interval month",
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Authenticity Index"), "{out}");
    assert!(out.contains("of 500 posts"), "{out}");
    let (code, out, _) = cx(
        cfg,
        "authenticity --product acme-phone --from 2026-01-01 --to 2026-12-01 --json",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["volume"], 500);
    assert!(v["index"].as_f64().is_some(), "{v}");
    let (code, out, _) = cx(
        cfg,
        "posts --product acme-phone --from 2026-01-01 --to 2026-12-01 --suspicious --limit 500 --json",
    );
    assert_eq!(code, 0);
    for line in out.lines() {
        let p: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(p["suspicious"], true, "{p}");
    }
    assert_eq!(cx(cfg, "posts --product acme-phone --signal bogus").0, 2);
    let (code, out, err) = cx(cfg, "digest --product acme-phone --date 2026-03-05");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("# Acme Phone — daily digest for 2026-03-05"),
        "{out}"
    );
    let (code, out, _) = cx(
        cfg,
        "digest --product acme-phone --date 2026-03-05 --format json",
    );
    assert_eq!(code, 0);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["date"], "2026-03-05");
    assert!(v["volume"]["posts"].as_u64().unwrap() > 0, "{v}");
    let (code, out, _) = cx(
        cfg,
        "digest --product acme-phone --date 2026-03-05 --format html",
    );
    assert_eq!(code, 0);
    assert!(
        out.starts_with("<!doctype html>") && out.contains("<svg"),
        "{out}"
    );
    assert_eq!(
        cx(cfg, "digest --product acme-phone --date 05.03.2026").0,
        2
    );
    assert_eq!(cx(cfg, "digest --product acme-phone --format pdf").0, 2);
    assert_eq!(cx(cfg, "authenticity --product acme-phone --source x").0, 2);

    let (code, out, _) = cx(cfg, "verify");
    assert_eq!(code, 0, "{out}");
    assert_eq!(cx(cfg, "trends --product nope").0, 2);
    assert_eq!(
        cx(cfg, "trends --product acme-phone --interval decade").0,
        2
    );
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let mut child = Proc::new(
        Command::new(bin())
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "--log-level",
                "info",
                "run",
            ])
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    assert!(status.success(), "{err}");
    assert!(err.contains("store flushed"), "{err}");
}

/// Kills `cxpulse import` with SIGKILL at random moments of a large import; after every kill the
/// store must be consistent, and the finished import must hold every row exactly once.
#[test]
fn sigkill_during_import_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let data = dir.path().join("big.jsonl");
    const ROWS: usize = 40_000;
    write_rows(&data, ROWS);
    let import = || {
        Command::new(bin())
            .args([
                "--config",
                cfg.to_str().unwrap(),
                "import",
                "--product",
                "acme-phone",
                "--batch",
                "256",
                data.to_str().unwrap(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map(Proc::new)
            .unwrap()
    };
    let mut interrupted = 0;
    let mut last = 0usize;
    let mut delay_ms = 400u64;
    for round in 0..20 {
        let mut child = import();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let (_, posts) = sound_after_kill(&dir.path().join("db"), round, last);
        if posts > last && posts < ROWS {
            interrupted += 1;
        }
        // Killed before the first batch landed (slow start): give the next round longer;
        // otherwise vary the moment of the kill.
        delay_ms = if posts == last {
            delay_ms + 300
        } else {
            150 + (delay_ms * 7 + 113) % 500
        };
        last = posts;
        if interrupted >= 3 || last == ROWS {
            break;
        }
    }
    assert!(
        interrupted >= 1,
        "no kill landed mid-import (store had {last} posts)"
    );
    let status = import().wait().unwrap();
    assert!(status.success());
    let store = cxpulse::store::Store::open_waiting(
        &dir.path().join("db"),
        cxpulse::store::REOPEN_LOCK_WAIT,
    )
    .unwrap();
    let r = store.verify().unwrap();
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    assert_eq!(r.posts, ROWS, "every row stored exactly once");
}

/// While the daemon holds the store, read commands go through its API and give the same answers.
#[test]
fn read_commands_use_the_running_daemons_api() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.jsonl");
    write_rows(&data, 120);
    let (cfg_path, _) = daemon_config(dir.path(), &file_source(&data));
    let cfg = cfg_path.to_str().unwrap();
    let mut daemon = spawn_daemon(&cfg_path);
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let r = cx(
            cfg,
            "trends --product acme-phone --from 2026-01-01 --to 2026-12-01 --interval month",
        );
        if r.0 == 0 && r.1.contains("total: 120 posts") {
            break r;
        }
        assert!(
            Instant::now() < deadline,
            "daemon never served 120 posts: {r:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(out.2.contains("reading through its API"), "{}", out.2);
    let (code, posts, _) = cx(cfg, "posts --product acme-phone --from 2026-01-01 --to 2026-12-01 --label touchpoints.delivery --limit 500 --json");
    assert_eq!(code, 0);
    assert_eq!(posts.lines().count(), 24);
    let (code, report, err) = cx(
        cfg,
        "authenticity --product acme-phone --from 2026-01-01 --to 2026-12-01 --json",
    );
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["volume"], 120);
    let (code, md, err) = cx(cfg, "digest --product acme-phone --date 2026-01-05");
    assert_eq!(code, 0, "{err}");
    assert!(md.contains("daily digest for 2026-01-05"), "{md}");
    let csv_path = dir.path().join("live.csv");
    let (code, _, err) = cx(
        cfg,
        &format!(
            "export --product acme-phone --from 2026-01-01 --to 2026-12-01 --format csv -o {}",
            csv_path.display()
        ),
    );
    assert_eq!(code, 0, "{err}");
    let mut r = csv::Reader::from_path(&csv_path).unwrap();
    assert!(r
        .headers()
        .unwrap()
        .iter()
        .any(|h| h == "touchpoints.delivery"));
    assert_eq!(r.records().count(), 120);
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(daemon.wait().unwrap().success());
}

/// After set-up the binary needs no environment and no working directory: it finds the shipped
/// config and the ONNX Runtime library by itself.
#[test]
fn binary_works_from_any_directory_without_environment() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["classify", "I love these shoes"])
        .current_dir(elsewhere.path())
        .env_clear()
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["language"], "en");
}

/// `cxpulse eval` scores a model folder on labelled data with the model card's metrics.
#[test]
fn eval_reports_metrics_from_the_onnx_model() {
    // `cxpulse eval` on the tiny model and a fixture file.
    let eval = |task: &str, data: &str| {
        Command::new(bin())
            .args(["eval", "--task", task, "--json", "--model"])
            .arg(repo().join("models/tiny-test"))
            .arg("--data")
            .arg(repo().join("tests/fixtures/eval").join(data))
            .output()
            .unwrap()
    };
    let out = eval("sentiment", "sentiment.jsonl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["n"], 6);
    // The tiny model's cue words decide every one of these texts.
    assert_eq!(r["macro_f1"], 1.0);
    assert_eq!(r["confusion"][3][3], 1, "the mixed example is found: {r}");

    let out = eval("emotions.ekman", "emotions.tsv");
    assert!(out.status.success());
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["per_label_f1"]["joy"], 1.0, "{r}");
    assert_eq!(r["per_label_f1"]["anger"], 1.0, "{r}");
    // 2 of the 7 groups right, the others have no true positives.
    assert!(
        (r["macro_f1"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-3,
        "{r}"
    );

    assert_eq!(eval("horoscope", "sentiment.jsonl").status.code(), Some(2));
}

#[test]
fn forget_deletes_a_persons_posts_only_with_yes() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let cfg = cfg.to_str().unwrap();
    let data = dir.path().join("rows.jsonl");
    write_rows(&data, 300);
    let (code, _, err) = cx(
        cfg,
        &format!("import --product acme-phone {}", data.to_str().unwrap()),
    );
    assert_eq!(code, 0, "{err}");
    // Rows 3, 100, 197 and 294 are by user3 (authors are user{i % 97}); stored pseudonymised.
    let (code, out, err) = cx(cfg, "forget --author user3");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("would delete 4 post(s)"), "{out}");
    let (code, out, err) = cx(cfg, "forget --product acme-phone --author user3 --yes");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("deleted 4 post(s)"), "{out}");
    let (code, out, _) = cx(cfg, "verify");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("296 posts"), "{out}");
    let (_, out, _) = cx(cfg, "forget --author user3 --yes");
    assert!(out.contains("deleted 0 post(s)"), "{out}");
    // One post by id.
    let (_, out, _) = cx(
        cfg,
        "posts --product acme-phone --from 2026-01-01 --to 2026-12-01 --limit 1 --json",
    );
    let id = serde_json::from_str::<serde_json::Value>(out.lines().next().unwrap()).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, _) = cx(cfg, &format!("forget --post {id} --yes"));
    assert_eq!(code, 0);
    assert!(out.contains("deleted 1 post(s)"), "{out}");
    let (code, _, err) = cx(cfg, "forget --post not-hex --yes");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not a post id"), "{err}");
    let (code, _, err) = cx(cfg, "forget --product nope --author x");
    assert_eq!(code, 2, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_polls_once_and_dry_run_stores_nothing() {
    let srv = FixtureServer::start().await;
    let path = "/api/v1/search_by_date";
    let page = |f: &str| Reply::ok(fixture(&format!("hn/{f}")));
    srv.script(path, vec![page("page0.json"), page("page1.json")]);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "\n[[products.sources]]\nkind = \"hn\"\nname = \"hn\"\nquery = \"Acme Phone\"\nbase_url = \"{}\"\n",
            srv.url("")
        ),
    );
    let cfg = cfg.to_str().unwrap().to_string();
    let cx_async = |args: &'static str| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || cx(&cfg, args))
    };

    let (code, out, err) = cx_async("fetch --product acme-phone --dry-run")
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("hn\t")).collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert!(
        lines.iter().any(|l| l.contains("\tirrelevant\t41000040\t")),
        "{out}"
    );
    assert!(
        out.contains("hn: 4 items (dry run: nothing stored), 1 skipped"),
        "{out}"
    );
    let (_, out, _) = cx_async("verify").await.unwrap();
    assert!(out.contains("0 posts"), "dry run stored nothing: {out}");

    srv.script(path, vec![page("page0.json"), page("page1.json")]);
    let (code, out, err) = cx_async("fetch --product acme-phone --source hn")
        .await
        .unwrap();
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hn: 4 fetched, 3 stored, 0 duplicates, 1 irrelevant, 1 skipped"),
        "{out}"
    );
    // The cursor moved: the next request asks from the newest stored second on.
    srv.script(path, vec![page("page0.json"), page("page1.json")]);
    let (code, out, _) = cx_async("fetch --product acme-phone").await.unwrap();
    assert_eq!(code, 0);
    assert!(out.contains("3 duplicates"), "{out}");
    assert!(srv
        .seen(path)
        .last()
        .unwrap()
        .query
        .contains("created_at_i%3E%3D1763633702"));

    let (code, _, err) = cx_async("fetch --product acme-phone --source nope")
        .await
        .unwrap();
    assert_eq!(code, 2, "{err}");
    srv.script(path, vec![Reply::status(404)]);
    let (code, out, _) = cx_async("fetch --product acme-phone").await.unwrap();
    assert_eq!(code, 1);
    assert!(out.contains("hn: error (http_4xx)"), "{out}");
}

/// Credentials reach the services that need them and nothing else: not the output of `fetch`,
/// not `check-config`, not the logs even at `trace`, not the error messages of refused ones.
#[tokio::test]
async fn credentials_never_reach_output_or_logs() {
    let srv = FixtureServer::start().await;
    let json = |rel: &str| Reply::typed("application/json", fixture(rel));
    srv.script("/api/v1/access_token", vec![json("reddit/token.json")]);
    srv.script("/search", vec![json("reddit/search.json")]);
    srv.script(
        "/xrpc/com.atproto.server.createSession",
        vec![Reply::typed(
            "application/json",
            br#"{"error":"AuthenticationRequired","message":"Invalid identifier or password"}"#
                .to_vec(),
        )
        .with_status(401)],
    );
    srv.script(
        "/youtube/v3/commentThreads",
        vec![json("youtube/key_invalid.json").with_status(400)],
    );
    let dir = tempfile::tempdir().unwrap();
    let sources = format!(
        r#"
[[products.sources]]
kind = "reddit"
name = "reddit"
query = "acme phone"
client_id = "p-jcoLKBynTLew"
client_secret_env = "CXPULSE_TEST_REDDIT_SECRET"
api_base = "{base}"
token_url = "{base}/api/v1/access_token"

[[products.sources]]
kind = "bluesky_search"
name = "bsky"
query = "acme"
identifier = "acme-insights.bsky.social"
app_password = "inline-app-pass-4242"
service = "{base}"

[[products.sources]]
kind = "youtube"
name = "yt"
video_ids = ["aCmEph0neR3"]
api_key_env = "CXPULSE_TEST_YT_KEY"
base_url = "{base}"
"#,
        base = srv.url("")
    );
    let cfg = write_config(dir.path(), &sources);
    let secrets = [
        "gko_LXELoV07ZBNUXrvWZfzE3aI",
        "inline-app-pass-4242",
        "AIzaSyD-secret-9999",
    ];
    let run_with_env = move |args: &'static [&'static str]| {
        let cfg = cfg.clone();
        tokio::task::spawn_blocking(move || {
            let out = Command::new(bin())
                .arg("--config")
                .arg(&cfg)
                .args(args)
                .env("CXPULSE_LOG_LEVEL", "trace")
                .env("CXPULSE_TEST_REDDIT_SECRET", "gko_LXELoV07ZBNUXrvWZfzE3aI")
                .env("CXPULSE_TEST_YT_KEY", "AIzaSyD-secret-9999")
                .output()
                .unwrap();
            (
                out.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&out.stdout).into_owned()
                    + &String::from_utf8_lossy(&out.stderr),
            )
        })
    };
    let (code, out) = run_with_env(&["fetch", "--product", "acme-phone", "--dry-run"])
        .await
        .unwrap();
    assert_eq!(code, 1, "two sources refused their credentials: {out}");
    assert!(out.contains("reddit: 2 items"), "{out}");
    assert!(out.contains("bsky: error (auth_failed)"), "{out}");
    assert!(out.contains("yt: error (auth_failed)"), "{out}");
    let (code, masked) = run_with_env(&["check-config"]).await.unwrap();
    assert_eq!(code, 0, "{masked}");
    assert!(masked.contains("app_password = \"********\""), "{masked}");
    for s in secrets {
        assert!(!out.contains(s), "`{s}` leaked into fetch output:\n{out}");
        assert!(
            !masked.contains(s),
            "`{s}` leaked into check-config:\n{masked}"
        );
    }
    // They did reach the services.
    let sent = |p: &str, h: &str| {
        srv.seen(p).iter().any(|s| {
            s.headers
                .get(h)
                .is_some_and(|v| v.to_str().unwrap().contains("AIzaSyD-secret-9999"))
        })
    };
    assert!(sent("/youtube/v3/commentThreads", "x-goog-api-key"));
}

/// A backup taken from a running daemon while a file source and API clients write is a
/// consistent snapshot: restored, it verifies and holds exactly the posts it announced. A
/// damaged file is refused before anything changes, and a restore never runs under a daemon.
#[test]
fn backup_of_a_busy_daemon_restores_to_a_store_that_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("rows.jsonl");
    write_rows(&data, 3000);
    let (cfg_path, base) = daemon_config(dir.path(), &file_source(&data));
    let cfg = cfg_path.to_str().unwrap().to_string();
    let mut daemon = spawn_daemon(&cfg_path);
    let http = reqwest::blocking::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/health")).send().is_err() {
        assert!(Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    // API clients keep writing while the backup runs.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let (stop, base) = (stop.clone(), base.clone());
        std::thread::spawn(move || {
            let http = reqwest::blocking::Client::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let posts: Vec<serde_json::Value> = (0..10)
                    .map(|i| serde_json::json!({"id": format!("api-{n}-{i}"), "text": format!("Acme Phone from the API {n} {i}, delivery was late"), "published": "2026-03-03T10:00:00Z"}))
                    .collect();
                let r = http
                    .post(format!("{base}/products/acme-phone/posts"))
                    .bearer_auth(TOKEN)
                    .json(&serde_json::json!({ "posts": posts }))
                    .send()
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                n += 1;
            }
            n
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    let snap = dir.path().join("snap.backup");
    let (code, out, err) = cx(&cfg, &format!("backup --out {}", snap.display()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.contains("through its API"), "{err}");
    assert!(out.contains("checksum verified"), "{out}");
    let announced: u64 = out
        .split("posts")
        .next()
        .and_then(|s| s.rsplit(' ').nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no post count in {out}"));
    assert!(announced > 0, "{out}");
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(writer.join().unwrap() > 0);

    // An existing file is never overwritten, and no restore runs under a daemon.
    let (code, _, err) = cx(&cfg, &format!("backup --out {}", snap.display()));
    assert_ne!(code, 0, "{err}");
    let (code, _, err) = cx(&cfg, &format!("restore --from {} --yes", snap.display()));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("stop the daemon"), "{err}");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(daemon.wait().unwrap().success());

    // A damaged copy is refused and changes nothing.
    let mut bytes = std::fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    let bad = dir.path().join("bad.backup");
    std::fs::write(&bad, &bytes).unwrap();
    let (code, _, err) = cx(&cfg, &format!("restore --from {} --yes", bad.display()));
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("damaged") || err.contains("not a cxpulse backup"),
        "{err}"
    );
    let truncated = dir.path().join("short.backup");
    std::fs::write(&truncated, &bytes[..mid]).unwrap();
    let (code, _, _) = cx(
        &cfg,
        &format!("restore --from {} --yes", truncated.display()),
    );
    assert_eq!(code, 1);

    // Without --yes the file is only checked; with it the store is replaced and verifies.
    let (code, out, _) = cx(&cfg, &format!("restore --from {}", snap.display()));
    assert_eq!(code, 0);
    assert!(out.contains("nothing changed"), "{out}");
    let (code, out, err) = cx(&cfg, &format!("restore --from {} --yes", snap.display()));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("previous store is kept at"), "{out}");
    let (code, out, _) = cx(&cfg, "verify");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("store OK"), "{out}");
    assert!(
        out.starts_with(&format!("{announced} posts")),
        "{out} vs {announced}"
    );
}

/// One conversion of ratings in and out: a 1★ and a 5★ review read 1.0 and 5.0 in the CLI,
/// 0.2 and 1.0 in the API's 0–1 values, and average 3.00/5 in the trends (they used to print
/// as value×5 of a min-max scale: 1★ showed 0.0).
#[test]
fn one_and_five_star_reviews_read_the_same_on_every_surface() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path(), "");
    let data = dir.path().join("stars.jsonl");
    std::fs::write(
        &data,
        "{\"id\":\"s1\",\"text\":\"Acme Phone broke on day one\",\"published\":\"2026-11-10T10:00:00Z\",\"rating\":1}\n\
         {\"id\":\"s5\",\"text\":\"Acme Phone is wonderful\",\"published\":\"2026-11-10T11:00:00Z\",\"rating\":5}\n",
    )
    .unwrap();
    let c = cfg.to_str().unwrap();
    let (code, _, err) = run(&[
        "--config",
        c,
        "import",
        "--product",
        "acme-phone",
        data.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let range = [
        "--product",
        "acme-phone",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
    ];
    let (code, out, err) = run(&[&["--config", c, "posts"][..], &range[..]].concat());
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("2026-11-10"))
        .collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(lines.iter().any(|l| l.contains(" 1.0 ")), "{out}");
    assert!(lines.iter().any(|l| l.contains(" 5.0 ")), "{out}");
    let (code, out, err) = run(&[&["--config", c, "trends"][..], &range[..]].concat());
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rating 3.00/5"), "{out}");
    let (code, out, err) = run(&[&["--config", c, "posts", "--json"][..], &range[..]].concat());
    assert_eq!(code, 0, "{err}");
    let mut ratings: Vec<f64> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .flat_map(|v| {
            let posts = v["posts"]
                .as_array()
                .cloned()
                .unwrap_or_else(|| vec![v.clone()]);
            posts.into_iter().filter_map(|p| p["rating"].as_f64())
        })
        .collect();
    ratings.sort_by(f64::total_cmp);
    assert_eq!(ratings.len(), 2, "{out}");
    assert!(
        (ratings[0] - 0.2).abs() < 1e-6 && (ratings[1] - 1.0).abs() < 1e-6,
        "{ratings:?}"
    );
}
