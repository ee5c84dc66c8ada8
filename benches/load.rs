//! Open-loop load on a running daemon: requests are sent on a fixed schedule, whatever the
//! answers do (a closed-loop client such as wrk slows down with the server and hides queueing),
//! each one a different query, mixed as a dashboard asks: trends of a year by day and by week,
//! pages of posts plain, filtered by a common label, by a rare signal. Latency is counted from
//! the moment a request was due. After each step the client stops at once (outstanding
//! requests are dropped) and the daemon's CPU time is read in the second after the next one.
//!
//! `cargo bench --bench load -- --base http://127.0.0.1:7979 --pid PID --product P
//!  [--rates 500,2000] [--secs 20]`; scripts/bench-overload.sh runs it. Without `--bench` (as
//! `cargo test --benches` runs it) it is a smoke run: a daemon in this process on an empty
//! store, one second at 100 requests/s, every answer required to be 200, so the query mix
//! stays valid as the API evolves.

use std::time::{Duration, Instant};

#[derive(Clone)]
struct Args {
    full: bool,
    base: String,
    pid: u32,
    product: String,
    rates: Vec<u32>,
    secs: u64,
}

fn args() -> Args {
    let mut a = Args {
        full: false,
        base: "http://127.0.0.1:7979".into(),
        pid: 0,
        product: "nordwind-trail-2".into(),
        rates: vec![500, 2000],
        secs: 20,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let mut v = || it.next().unwrap_or_else(|| panic!("{k} needs a value"));
        match k.as_str() {
            "--base" => a.base = v(),
            "--pid" => a.pid = v().parse().expect("--pid is a number"),
            "--product" => a.product = v(),
            "--rates" => {
                a.rates = v()
                    .split(',')
                    .map(|r| r.parse().expect("--rates is a list of numbers"))
                    .collect()
            }
            "--secs" => a.secs = v().parse().expect("--secs is a number"),
            "--bench" => a.full = true,
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

/// Query `i` of the mix; its `to` moves by a second per request, so no two are alike and the
/// answer cache never helps.
fn query(a: &Args, i: u64) -> String {
    let to = 1_735_689_600 + i; // 2025-01-01T00:00:00Z + i s
    let to = chrono::DateTime::from_timestamp(to as i64, 0)
        .expect("a valid time")
        .format("%Y-%m-%dT%H:%M:%SZ");
    let range = format!("from=2024-01-01T00:00:00Z&to={to}");
    let p = format!("{}/api/v1/products/{}", a.base, a.product);
    match i % 6 {
        0 | 1 => format!("{p}/trends?{range}&interval=day"),
        2 => format!("{p}/trends?{range}&interval=week"),
        3 => format!("{p}/posts?{range}&limit=50"),
        4 => format!("{p}/posts?{range}&label=emotions.anger&limit=50"),
        _ => format!("{p}/posts?{range}&signal=copy_paste&limit=50"),
    }
}

/// The daemon's user + system CPU time so far, in seconds (`/proc/PID/stat`); NaN when it
/// cannot be read (the client out of file descriptors), so the table says so.
fn cpu_secs(pid: u32) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return f64::NAN;
    };
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(") ").map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15; `rest` starts at field 3.
    (ticks(11) + ticks(12)) / 100.0
}

#[derive(Default)]
struct Outcome {
    ok: Vec<f64>,
    shed: Vec<f64>,
    other: u64,
    timeouts: u64,
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

/// A step whose figures are not shown.
async fn step_quiet(a: &Args, client: &reqwest::Client, rate: u32, first: u64) -> u64 {
    let total = rate as u64 * a.secs;
    let mut tasks = tokio::task::JoinSet::new();
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now();
    for n in 0..total {
        tokio::time::sleep_until(start + every * n as u32).await;
        let (client, url) = (client.clone(), query(a, first + n));
        tasks.spawn(async move {
            if let Ok(r) = client.get(&url).send().await {
                let _ = r.bytes().await;
            }
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    total
}

/// What one step saw: requests sent, 2xx answers, and everything else.
struct Seen {
    sent: u64,
    served: usize,
    not_served: usize,
}

async fn step(a: &Args, client: &reqwest::Client, rate: u32, first: u64) -> Seen {
    let total = rate as u64 * a.secs;
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(u16, f64)>();
    let mut tasks = tokio::task::JoinSet::new();
    let cpu_start = cpu_secs(a.pid);
    let start = tokio::time::Instant::now();
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    for n in 0..total {
        let due = start + every * n as u32;
        tokio::time::sleep_until(due).await;
        let (client, url, tx) = (client.clone(), query(a, first + n), tx.clone());
        tasks.spawn(async move {
            let status = match client.get(&url).send().await {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let _ = r.bytes().await;
                    s
                }
                Err(e) if e.is_timeout() => 0,
                Err(_) => 1,
            };
            let _ = tx.send((status, due.elapsed().as_secs_f64() * 1000.0));
        });
        while tasks.try_join_next().is_some() {}
    }
    // Answers due within a second of the last request still count; then the client leaves.
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    let stopped = Instant::now();
    let cpu_busy = cpu_secs(a.pid) - cpu_start;
    let abandoned = tasks.len();
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
    drop(tx);
    let mut o = Outcome::default();
    while let Some((s, ms)) = rx.recv().await {
        match s {
            200..=299 => o.ok.push(ms),
            503 => o.shed.push(ms),
            0 => o.timeouts += 1,
            _ => o.other += 1,
        }
    }
    // CPU in the second that starts one second after the client stopped.
    tokio::time::sleep_until((stopped + Duration::from_secs(1)).into()).await;
    let c1 = cpu_secs(a.pid);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_cpu = cpu_secs(a.pid) - c1;
    let served = o.ok.len();
    let not_served = o.shed.len() + (o.other + o.timeouts) as usize + abandoned;
    let wall = a.secs as f64 + 1.0;
    println!(
        "| {rate} | {total} | {served} ({:.0}/s) | {:.1} | {:.1} | {} | {:.1} | {} | {abandoned} | {:.0} % | {:.0} % |",
        served as f64 / a.secs as f64,
        pct(&mut o.ok, 0.5),
        pct(&mut o.ok, 0.99),
        o.shed.len(),
        pct(&mut o.shed, 0.99),
        o.other + o.timeouts,
        100.0 * cpu_busy / wall,
        100.0 * idle_cpu,
    );
    Seen {
        sent: total,
        served,
        not_served,
    }
}

/// Thousands of requests outstanding need as many sockets: without this the client, not the
/// daemon, fails first (and cannot even read `/proc`).
fn raise_fd_limit() {
    // SAFETY: plain libc calls on a local struct.
    unsafe {
        let mut l = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 {
            l.rlim_cur = l.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// A daemon in this process on an empty store in `dir`.
async fn smoke_daemon(
    dir: &std::path::Path,
    stop: tokio_util::sync::CancellationToken,
) -> cxpulse::Running {
    let root = env!("CARGO_MANIFEST_DIR");
    let text = format!(
        "[server]\nbind = \"127.0.0.1:0\"\nrate_limit_per_client_rps = 0\n\n[storage]\npath = \"{}\"\nauthor_salt = \"smoke-salt-123\"\n\n[model]\ndir = \"{root}/models/tiny-test\"\nthreads = 1\n\n[fetch]\ncontact = \"smoke@example.com\"\n\n[log]\nlevel = \"warn\"\n\n[[products]]\nid = \"nordwind-trail-2\"\nname = \"Nordwind Trail Runner 2\"\nkeywords = [\"Nordwind\"]\n",
        dir.join("db").display()
    );
    let cfg = cxpulse::config::from_str(&text, "smoke.toml", dir, Default::default())
        .expect("the smoke config is valid");
    cxpulse::start(cfg, stop).await.expect("the daemon starts")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut a = args();
    raise_fd_limit();
    let mut smoke = None;
    if !a.full {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let stop = tokio_util::sync::CancellationToken::new();
        let running = smoke_daemon(dir.path(), stop.clone()).await;
        a.base = format!("http://{}", running.addr);
        a.pid = std::process::id();
        a.rates = vec![100];
        a.secs = 1;
        smoke = Some((dir, stop, running));
    }
    assert!(
        a.pid > 0,
        "--pid of the daemon is needed (its CPU time is read)"
    );
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(4096)
        .build()
        .expect("an HTTP client");
    let mut next = 0;
    if a.full {
        // Not reported: the page cache and the allocator settle first, as on a daemon that
        // has been serving a while (a store just written is read cold).
        println!("(after a warm-up of 5 s at 200 requests/s, not reported)");
        let warm = Args {
            secs: 5,
            rates: vec![200],
            ..a.clone()
        };
        next += step_quiet(&warm, &client, 200, next).await;
    }
    println!("| offered req/s | sent | served 2xx (goodput) | p50 ms | p99 ms | 503 overloaded | 503 p99 ms | errors | dropped at stop | daemon CPU (of one core) | CPU 1-2 s after stop |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &rate in &a.rates {
        let seen = step(&a, &client, rate, next).await;
        next += seen.sent;
        if smoke.is_some() {
            assert_eq!(
                (seen.served, seen.not_served),
                (seen.sent as usize, 0),
                "smoke: every query of the mix is answered 200"
            );
        }
    }
    if let Some((_dir, stop, running)) = smoke {
        stop.cancel();
        running.wait().await.expect("the daemon stops cleanly");
        println!("load: smoke run passed (run with --bench against a daemon for figures)");
    }
}
