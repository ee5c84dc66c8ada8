//! A disk that refuses writes (full, read-only): the daemon says so, pauses its sources, keeps
//! answering reads, refuses writes with `storage_unavailable`, and resumes by itself once the
//! disk takes writes again, without losing or duplicating an acknowledged post.
//!
//! The full disk is the daemon's own RLIMIT_FSIZE, lowered and raised again from the outside
//! with prlimit(2): writes past the limit fail with EFBIG, as they fail with ENOSPC on a full
//! disk, and no root or special filesystem is needed.

use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

use cxpulse::domain::PostId;
use serde_json::{json, Value};

use crate::util::{daemon_command, daemon_config, file_source, sound_after_kill, TOKEN};

/// Sets the soft RLIMIT_FSIZE of process `pid` (the hard limit stays unlimited).
fn set_file_size_limit(pid: u32, bytes: Option<u64>) {
    let lim = libc::rlimit {
        rlim_cur: bytes.unwrap_or(libc::RLIM_INFINITY),
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: plain syscall on a child of this process with a valid rlimit.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_FSIZE,
            &lim,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn get(http: &reqwest::blocking::Client, url: &str) -> (u16, Value) {
    let r = http.get(url).send().unwrap();
    let s = r.status().as_u16();
    (s, r.json().unwrap_or(Value::Null))
}

fn wait_for(what: &str, secs: u64, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_full_disk_pauses_writes_keeps_reads_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let rows = dir.path().join("rows.jsonl");
    std::fs::write(
        &rows,
        (0..20)
            .map(|i| format!("{{\"id\":\"row-{i}\",\"text\":\"Acme Phone row {i}: battery is fine\",\"published\":\"2026-05-0{}T10:00:00Z\"}}\n", 1 + i % 9))
            .collect::<String>(),
    )
    .unwrap();
    let (cfg, base) = daemon_config(dir.path(), &file_source(&rows));
    let mut cmd = daemon_command(&cfg);
    // SAFETY: only async-signal-safe work between fork and exec. Past the limit the kernel
    // sends SIGXFSZ, which would kill the daemon: ignored, the write fails with EFBIG instead.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            Ok(())
        });
    }
    let mut daemon = crate::util::Proc::new(cmd.spawn().unwrap());
    let http = reqwest::blocking::Client::new();
    wait_for("the daemon", 30, || {
        http.get(format!("{base}/health")).send().is_ok()
    });
    wait_for("the file source's rows", 30, || {
        get(&http, &format!("{base}/health")).1["store"]["posts"] == 20
    });

    let mut acked: Vec<String> = Vec::new();
    let mut batch = 0;
    let mut ingest = |acked: &mut Vec<String>| -> (u16, Value) {
        batch += 1;
        let ids: Vec<String> = (0..20).map(|i| format!("b{batch}-{i}")).collect();
        let posts: Vec<Value> = ids
            .iter()
            .map(|id| json!({"id": id, "text": format!("Acme Phone review {id}: the screen is sharp and the battery lasts two days, which I did not expect at this price"), "published": "2026-06-01T12:00:00Z"}))
            .collect();
        let r = http
            .post(format!("{base}/products/acme-phone/posts"))
            .bearer_auth(TOKEN)
            .json(&json!({ "posts": posts }))
            .send()
            .unwrap();
        let status = r.status().as_u16();
        if status == 200 {
            acked.extend(ids);
        }
        (status, r.json().unwrap_or(Value::Null))
    };
    assert_eq!(ingest(&mut acked).0, 200);

    // The disk fills up: nothing more may be written past 1 MiB into any file.
    set_file_size_limit(daemon.id(), Some(1024 * 1024));
    let mut refused = None;
    for _ in 0..500 {
        let (s, body) = ingest(&mut acked);
        if s != 200 {
            refused = Some((s, body));
            break;
        }
    }
    let (s, body) = refused.expect("some write fails once the disk is full");
    assert_eq!(
        (s, body["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{body}"
    );

    // It says so, and keeps refusing writes up front.
    let (s, health) = get(&http, &format!("{base}/health"));
    assert_eq!(s, 200);
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["store"]["writable"], false, "{health}");
    let (s, body) = ingest(&mut acked);
    assert_eq!(
        (s, body["code"].as_str()),
        (503, Some("storage_unavailable")),
        "{body}"
    );
    // Sources stop fetching; operators see it in /sources and in the metrics.
    wait_for("the source to pause", 10, || {
        let (_, sources) = get(&http, &format!("{base}/sources"));
        sources.to_string().contains("storage_unavailable")
    });
    wait_for("store_writable 0", 10, || {
        let metrics = format!("{}/metrics", base.trim_end_matches("/api/v1"));
        let m = http.get(metrics).send().unwrap().text().unwrap();
        m.lines().any(|l| l == "cxpulse_store_writable 0")
    });
    // Reads go on: every acknowledged post is there.
    let (s, t) = get(
        &http,
        &format!("{base}/products/acme-phone/trends?from=2026-06-01&to=2026-06-02&interval=day"),
    );
    assert_eq!(s, 200, "{t}");
    let volume = t["volume"][0].as_u64().unwrap() as usize;
    assert!(volume >= acked.len(), "{volume} < {}", acked.len());
    let (s, page) = get(
        &http,
        &format!("{base}/products/acme-phone/posts?limit=5&from=2026-05-01&to=2026-05-10"),
    );
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["posts"].as_array().unwrap().len(), 5);

    // Space returns: the daemon notices by itself and takes writes again.
    set_file_size_limit(daemon.id(), None);
    wait_for("writes to resume", 60, || {
        get(&http, &format!("{base}/health")).1["store"]["writable"] == true
    });
    let (s, body) = ingest(&mut acked);
    assert_eq!(s, 200, "{body}");
    wait_for("the source to resume", 10, || {
        let (_, sources) = get(&http, &format!("{base}/sources"));
        !sources.to_string().contains("storage_unavailable")
    });

    // A clean stop, and the store is sound: every acknowledged post once, aggregates recount.
    // SAFETY: signalling our own child.
    unsafe { libc::kill(daemon.id() as libc::pid_t, libc::SIGTERM) };
    assert!(daemon.wait().unwrap().success(), "daemon exits cleanly");
    let (store, posts) = sound_after_kill(&dir.path().join("db"), 0, acked.len() + 20);
    for id in &acked {
        assert!(
            store
                .contains(&PostId::new("acme-phone", "api", id))
                .unwrap(),
            "acknowledged post {id} is gone"
        );
    }
    assert!(
        posts <= acked.len() + 20 + 20,
        "at most the refused batch beyond what was acknowledged: {posts}"
    );
}
