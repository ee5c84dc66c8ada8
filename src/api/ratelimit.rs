//! The per-client request rate limit: a token bucket per peer IP address, answered with 429
//! `rate_limited` and a `Retry-After` when a client outruns it.
//!
//! An IPv6 client is its /64 (one host can use any address of its network). The table of
//! clients is bounded: when it is full, clients whose buckets have refilled are forgotten (a
//! forgotten client starts with a full bucket, which is what it has anyway), and if every one is
//! still busy, newcomers share one overflow bucket rather than go unlimited.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::{ApiError, Code};

/// Most clients remembered at once (a few hundred bytes each).
const MAX_CLIENTS: usize = 10_000;

/// The shared bucket of clients that find the table full.
const OVERFLOW: IpAddr = IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED);

/// The key of a client: its IPv4 address, or its IPv6 /64.
fn client_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

pub struct ClientLimiter {
    per_sec: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl ClientLimiter {
    pub fn new(per_sec: u32, burst: u32) -> ClientLimiter {
        ClientLimiter {
            per_sec: per_sec.max(1) as f64,
            burst: burst.max(1) as f64,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request's token for `ip`, or says how long until one is there.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let mut ip = client_of(ip);
        let mut buckets = self.buckets.lock().expect("rate limit lock poisoned");
        if buckets.len() >= MAX_CLIENTS && !buckets.contains_key(&ip) {
            let refill = Duration::from_secs_f64(self.burst / self.per_sec);
            buckets.retain(|k, b| *k == OVERFLOW || now.saturating_duration_since(b.at) < refill);
            if buckets.len() >= MAX_CLIENTS {
                ip = OVERFLOW;
            }
        }
        let b = buckets.entry(ip).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_sec).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }
}

/// The middleware. Requests without a peer address (served without connect info) pass.
pub async fn limit(
    State(limiter): State<Option<Arc<ClientLimiter>>>,
    req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    if let (Some(limiter), Some(ip)) = (limiter, peer) {
        if let Err(wait) = limiter.check(ip, Instant::now()) {
            let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
            let mut resp = ApiError::new(
                Code::RateLimited,
                format!("too many requests from this client; retry in {secs} s"),
            )
            .into_response();
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("digits"),
            );
            return resp;
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_average_per_client() {
        let l = ClientLimiter::new(10, 3);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check(a, t0).is_ok());
        }
        let wait = l.check(a, t0).unwrap_err();
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100));
        assert!(l.check(b, t0).is_ok(), "another client has its own bucket");
        // A tenth of a second later one more request is allowed, not two.
        let t1 = t0 + Duration::from_millis(100);
        assert!(l.check(a, t1).is_ok());
        assert!(l.check(a, t1).is_err());
        // After a long pause the bucket is full again, but no fuller than the burst.
        let t2 = t1 + Duration::from_secs(60);
        for _ in 0..3 {
            assert!(l.check(a, t2).is_ok());
        }
        assert!(l.check(a, t2).is_err());
    }

    #[test]
    fn an_ipv6_network_is_one_client() {
        let l = ClientLimiter::new(1, 2);
        let t0 = Instant::now();
        assert!(l.check("2001:db8::1".parse().unwrap(), t0).is_ok());
        assert!(l.check("2001:db8::ffff:2".parse().unwrap(), t0).is_ok());
        assert!(l.check("2001:db8::3".parse().unwrap(), t0).is_err());
        assert!(l.check("2001:db8:0:1::1".parse().unwrap(), t0).is_ok());
    }

    #[test]
    fn the_client_table_stays_bounded() {
        let l = ClientLimiter::new(1, 1);
        let t0 = Instant::now();
        for i in 0..(MAX_CLIENTS as u32 + 50) {
            let ip = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i));
            let _ = l.check(ip, t0);
        }
        // Full of busy clients, plus the overflow bucket the last 50 shared (and spent): a
        // newcomer is limited with them, not let through.
        assert!(l.buckets.lock().unwrap().len() <= MAX_CLIENTS + 1);
        let newcomer = IpAddr::from(std::net::Ipv4Addr::new(192, 168, 9, 9));
        assert!(l.check(newcomer, t0).is_err());
        // Once their buckets have refilled, old clients make room.
        let later = t0 + Duration::from_secs(5);
        assert!(l.check("192.168.1.1".parse().unwrap(), later).is_ok());
        assert!(l.buckets.lock().unwrap().len() < 100);
    }
}
