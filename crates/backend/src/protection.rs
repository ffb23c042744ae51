//! Protection of the public API: rate limits per user and per client IP, login throttling,
//! request timeouts, and who the client is ([`Protection::client_ip`], `TRUSTED_PROXIES`).
//!
//! The limits are token buckets kept in this process's memory: with several backend replicas
//! behind a load balancer each replica counts on its own, so the effective limit is the configured
//! one times the number of replicas a client's requests reach. That is enough to stop a runaway
//! script or password guessing; a shared limiter (PostgreSQL or a proxy) would be the next step.
//! Buckets of quiet clients are forgotten, so memory stays bounded by the number of recently
//! active clients.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;

use crate::config::{AuthMode, Settings};
use crate::error::ApiError;
use crate::state::AppState;

/// Above this many tracked keys, idle entries are swept before a new one is added.
const SWEEP_ABOVE: usize = 10_000;

/// A token bucket: `capacity` requests at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Many token buckets with the same rate, one per key.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    capacity: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    /// `None` when `per_minute` is 0 (no limit).
    pub fn new(per_minute: u32, burst: u32) -> Option<Self> {
        (per_minute > 0).then(|| Self {
            per_second: f64::from(per_minute) / 60.0,
            capacity: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// Takes one token for `key`; `Err(retry_after)` when there is none.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        if buckets.len() > SWEEP_ABOVE && !buckets.contains_key(key) {
            let (rate, cap) = (self.per_second, self.capacity);
            buckets.retain(|_, b| b.tokens + now.duration_since(b.last).as_secs_f64() * rate < cap);
        }
        let b = buckets.entry(key.to_owned()).or_insert(Bucket {
            tokens: self.capacity,
            last: now,
        });
        let refill = now.duration_since(b.last).as_secs_f64() * self.per_second;
        b.tokens = (b.tokens + refill).min(self.capacity);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_second))
        }
    }
}

/// Failed logins of one email or one client IP.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    first: Instant,
    locked_until: Option<Instant>,
}

/// Locks an email (or a client IP) out of logging in for `lockout` after `max` failures within
/// `lockout`. A success clears the email's failures (not the IP's: one right password must not
/// reset a guesser's count).
#[derive(Debug)]
pub struct LoginThrottle {
    max_per_email: u32,
    max_per_ip: u32,
    lockout: Duration,
    failures: Mutex<HashMap<String, Failures>>,
}

impl LoginThrottle {
    pub fn new(max_per_email: u32, max_per_ip: u32, lockout: Duration) -> Option<Self> {
        (max_per_email > 0 || max_per_ip > 0).then(|| Self {
            max_per_email,
            max_per_ip,
            lockout,
            failures: Mutex::new(HashMap::new()),
        })
    }

    fn keys(email: &str, ip: Option<IpAddr>) -> (String, Option<String>) {
        (
            format!("email:{}", email.trim().to_lowercase()),
            ip.map(|ip| format!("ip:{ip}")),
        )
    }

    /// `Err(retry_after)` while the email or the IP is locked out.
    pub fn check(&self, email: &str, ip: Option<IpAddr>) -> Result<(), Duration> {
        let now = Instant::now();
        let Ok(map) = self.failures.lock() else {
            return Ok(());
        };
        let (ek, ik) = Self::keys(email, ip);
        let wait = [Some(ek), ik]
            .into_iter()
            .flatten()
            .filter_map(|k| map.get(&k)?.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max();
        match wait {
            Some(w) => Err(w),
            None => Ok(()),
        }
    }

    /// Counts a failed login.
    pub fn failed(&self, email: &str, ip: Option<IpAddr>) {
        let now = Instant::now();
        let Ok(mut map) = self.failures.lock() else {
            return;
        };
        let lockout = self.lockout;
        if map.len() > SWEEP_ABOVE {
            map.retain(|_, f| {
                now.duration_since(f.first) < lockout || f.locked_until.is_some_and(|u| u > now)
            });
        }
        let (ek, ik) = Self::keys(email, ip);
        for (key, max) in [(Some(ek), self.max_per_email), (ik, self.max_per_ip)] {
            let Some(key) = key else { continue };
            if max == 0 {
                continue;
            }
            let f = map.entry(key).or_insert(Failures {
                count: 0,
                first: now,
                locked_until: None,
            });
            if now.duration_since(f.first) >= lockout && f.locked_until.is_none_or(|u| u <= now) {
                *f = Failures {
                    count: 0,
                    first: now,
                    locked_until: None,
                };
            }
            f.count += 1;
            if f.count >= max {
                f.locked_until = Some(now + lockout);
            }
        }
    }

    /// A successful login clears the email's failures.
    pub fn succeeded(&self, email: &str) {
        if let Ok(mut map) = self.failures.lock() {
            map.remove(&Self::keys(email, None).0);
        }
    }
}

/// The limits of one backend process.
#[derive(Clone)]
pub struct Protection {
    per_user: Option<Arc<RateLimiter>>,
    per_ip: Option<Arc<RateLimiter>>,
    pub login: Option<Arc<LoginThrottle>>,
    trusted_proxies: Arc<[IpNet]>,
    /// `CORS_ORIGINS`, which may also open the WebSocket.
    origins: Arc<[String]>,
    timeout: Option<Duration>,
}

impl Protection {
    pub fn from_settings(s: &Settings) -> Self {
        Self {
            per_user: RateLimiter::new(s.rate_limit_per_minute, s.rate_limit_burst).map(Arc::new),
            per_ip: RateLimiter::new(s.rate_limit_ip_per_minute, s.rate_limit_ip_burst)
                .map(Arc::new),
            login: LoginThrottle::new(
                s.login_max_failures,
                s.login_ip_max_failures,
                Duration::from_secs(s.login_lockout_seconds),
            )
            .map(Arc::new),
            trusted_proxies: s.trusted_proxies.clone().into(),
            origins: s.cors_origins.clone().into(),
            timeout: (s.request_timeout_seconds > 0)
                .then(|| Duration::from_secs(s.request_timeout_seconds)),
        }
    }

    /// Whether a WebSocket upgrade may proceed, judged by its `Origin`. Browsers send `Origin`
    /// on every WebSocket handshake and the socket authenticates with the login cookie (or not at
    /// all in single-user mode), so any page the user visits could otherwise open one in their
    /// name. Allowed: no `Origin` (not a browser: CLI tools, tests), one of `CORS_ORIGINS`, or
    /// the request's own origin (its host and port equal the `Host` header).
    pub fn websocket_origin_allowed(&self, headers: &HeaderMap) -> bool {
        let Some(origin) = headers.get(http::header::ORIGIN) else {
            return true;
        };
        let Ok(origin) = origin.to_str() else {
            return false;
        };
        if self.origins.iter().any(|o| o.eq_ignore_ascii_case(origin)) {
            return true;
        }
        let host = headers
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok());
        host.is_some_and(|host| same_origin(origin, host))
    }

    fn trusted(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.iter().any(|n| n.contains(&ip))
    }

    /// The client's IP. From a peer in `TRUSTED_PROXIES`, the right-most `X-Forwarded-For`
    /// address that is not itself a trusted proxy (each proxy appends the address it saw, so
    /// everything left of the first untrusted hop may be forged by the client); from any other
    /// peer the header is ignored and the peer is the client. IPv4-mapped IPv6 addresses count
    /// as their IPv4 address.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        let peer = peer?.ip().to_canonical();
        if !self.trusted(peer) {
            return Some(peer);
        }
        // Every header line, in order, as one list.
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            // An unreadable entry ends the walk: nothing left of it can be attributed, so the
            // nearest hop that was checked stands for the client.
            let Ok(ip) = hop.parse::<IpAddr>().map(|ip| ip.to_canonical()) else {
                break;
            };
            client = ip;
            if !self.trusted(ip) {
                break;
            }
        }
        Some(client)
    }
}

/// Whether `origin` (`scheme://host[:port]`) names the host and port of the `Host` header;
/// a missing port is the scheme's default on both sides.
fn same_origin(origin: &str, host: &str) -> bool {
    let Ok(origin) = origin.parse::<http::Uri>() else {
        return false;
    };
    let default_port = match origin.scheme_str() {
        Some("http") => 80,
        Some("https") => 443,
        _ => return false,
    };
    let (Some(theirs), Ok(ours)) = (origin.authority(), host.parse::<http::uri::Authority>())
    else {
        return false;
    };
    if origin.path() != "/" && !origin.path().is_empty() {
        return false;
    }
    theirs.host().eq_ignore_ascii_case(ours.host())
        && theirs.port_u16().unwrap_or(default_port) == ours.port_u16().unwrap_or(default_port)
}

/// The user a request's login token names (signature and expiry checked, no database call: a
/// logged-out token still counts against its user's limit, which is what a limit wants).
/// The per-user limiter's key: an API token is limited on its own, a login token by its user.
/// No database read: an invalid token gets a key too, and is refused after the limiter.
fn limit_key(state: &AppState, headers: &HeaderMap) -> Option<String> {
    if state.settings.auth_mode == AuthMode::SingleUser {
        return Some(state.local_user.to_string());
    }
    let token =
        crate::auth::bearer_token(headers).or_else(|| crate::auth::cookie_token(headers))?;
    if crate::auth::api_token::is_api_token(&token) {
        return Some(crate::auth::api_token::rate_key(&token));
    }
    state.tokens.verify(&token).map(|c| c.sub.to_string())
}

fn too_many(scope: &'static str, retry_after: Duration) -> Response {
    telemetry::metrics::rate_limited(scope);
    ApiError::TooManyRequests {
        message: match scope {
            "user" => "too many requests from this account; slow down".to_owned(),
            _ => "too many requests from this address; slow down".to_owned(),
        },
        retry_after_seconds: retry_after.as_secs_f64().ceil().max(1.0) as u64,
    }
    .into_response()
}

/// Middleware of the public API: the per-IP and per-user limits.
pub async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let p = &state.protection;
    if let Some(limiter) = &p.per_ip {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        if let Some(ip) = p.client_ip(req.headers(), peer)
            && let Err(wait) = limiter.check(&ip.to_string())
        {
            return too_many("ip", wait);
        }
    }
    if let Some(limiter) = &p.per_user
        && let Some(key) = limit_key(&state, req.headers())
        && let Err(wait) = limiter.check(&key)
    {
        return too_many("user", wait);
    }
    next.run(req).await
}

/// Middleware of the public API (not the WebSocket): `REQUEST_TIMEOUT_SECONDS`.
pub async fn timeout(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.protection.timeout {
        None => next.run(req).await,
        Some(limit) => match tokio::time::timeout(limit, next.run(req)).await {
            Ok(res) => res,
            Err(_) => {
                tracing::warn!(timeout_seconds = limit.as_secs(), "request timed out");
                ApiError::Timeout.into_response()
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_refills() {
        let l = RateLimiter::new(60, 3).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(l.check_at("k", t0).is_ok());
        }
        let wait = l.check_at("k", t0).unwrap_err();
        assert!(
            wait <= Duration::from_secs(1) && wait > Duration::from_millis(900),
            "{wait:?}"
        );
        assert!(l.check_at("other", t0).is_ok());
        assert!(l.check_at("k", t0 + Duration::from_secs(1)).is_ok());
        assert!(RateLimiter::new(0, 10).is_none());
    }

    fn protection(trusted: &str, cors: &str) -> Protection {
        let mut vars: Vec<(String, String)> = [
            ("DATABASE_URL", "postgresql://u:p@localhost/db"),
            ("SECRET_KEY", "0123456789abcdef0123456789abcdef"),
            ("INTERNAL_API_TOKEN", "internal-token-0123456789"),
            ("S3_ENDPOINT", "http://127.0.0.1:9000"),
            ("S3_ACCESS_KEY", "ak"),
            ("S3_SECRET_KEY", "sk"),
            ("S3_BUCKET", "b"),
            ("CORS_ORIGINS", cors),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        if !trusted.is_empty() {
            vars.push(("TRUSTED_PROXIES".into(), trusted.into()));
        }
        Protection::from_settings(&Settings::from_vars(vars).unwrap())
    }

    fn xff(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40000))
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().unwrap())
    }

    #[test]
    fn the_client_is_the_right_most_untrusted_forwarded_address() {
        let p = protection("127.0.0.1/32, ::1, 10.0.0.0/8", "[]");
        // From an untrusted peer the header is ignored.
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("203.0.113.9")),
            ip("203.0.113.9")
        );
        // From a trusted one: the right-most address that is not a trusted proxy.
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("127.0.0.1")),
            ip("1.1.1.1")
        );
        assert_eq!(
            p.client_ip(&xff(&["6.6.6.6, 198.51.100.7, 10.1.2.3"]), peer("::1")),
            ip("198.51.100.7"),
            "the forged left-most entry is not taken"
        );
        assert_eq!(
            p.client_ip(
                &xff(&["6.6.6.6", "198.51.100.7,10.1.2.3"]),
                peer("10.9.9.9")
            ),
            ip("198.51.100.7"),
            "several header lines read as one list"
        );
        // No header, an empty or unreadable one: the nearest checked hop.
        assert_eq!(
            p.client_ip(&HeaderMap::new(), peer("127.0.0.1")),
            ip("127.0.0.1")
        );
        assert_eq!(p.client_ip(&xff(&[""]), peer("127.0.0.1")), ip("127.0.0.1"));
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1, junk, 10.0.0.5"]), peer("127.0.0.1")),
            ip("10.0.0.5")
        );
        // Only trusted hops: the left-most.
        assert_eq!(
            p.client_ip(&xff(&["10.0.0.1, 10.0.0.2"]), peer("127.0.0.1")),
            ip("10.0.0.1")
        );
        // IPv4-mapped addresses are their IPv4 address, both as peer and as entry.
        assert_eq!(
            p.client_ip(&xff(&["::ffff:192.0.2.1"]), peer("::ffff:127.0.0.1")),
            ip("192.0.2.1")
        );
        assert_eq!(p.client_ip(&HeaderMap::new(), None), None);
    }

    #[test]
    fn trusted_proxies_default_to_loopback_and_none_trusts_no_one() {
        let p = protection("", "[]");
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("127.0.0.1")),
            ip("1.1.1.1")
        );
        assert_eq!(p.client_ip(&xff(&["1.1.1.1"]), peer("::1")), ip("1.1.1.1"));
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("127.0.0.2")),
            ip("127.0.0.2")
        );
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("10.0.0.1")),
            ip("10.0.0.1")
        );
        let p = protection("none", "[]");
        assert_eq!(
            p.client_ip(&xff(&["1.1.1.1"]), peer("127.0.0.1")),
            ip("127.0.0.1")
        );
    }

    fn handshake(origin: Option<&str>, host: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(o) = origin {
            h.insert(http::header::ORIGIN, o.parse().unwrap());
        }
        if let Some(v) = host {
            h.insert(http::header::HOST, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn websocket_origins_absent_listed_or_same_are_allowed() {
        let p = protection("", r#"["http://127.0.0.1:3000","https://app.example.com"]"#);
        let ok = |o: Option<&str>, h: &str| p.websocket_origin_allowed(&handshake(o, Some(h)));
        assert!(ok(None, "127.0.0.1:8000"), "no Origin: not a browser");
        assert!(ok(Some("http://127.0.0.1:3000"), "127.0.0.1:8000"));
        assert!(ok(Some("HTTPS://APP.example.com"), "backend:8000"));
        assert!(
            ok(Some("http://127.0.0.1:8000"), "127.0.0.1:8000"),
            "same origin"
        );
        assert!(ok(Some("http://Example.com"), "example.com:80"));
        assert!(ok(Some("https://example.com"), "example.com"));
        assert!(ok(Some("http://[::1]:8000"), "[::1]:8000"));
        for (origin, host) in [
            ("http://evil.example", "127.0.0.1:8000"),
            ("http://127.0.0.1:3001", "127.0.0.1:8000"),
            ("http://127.0.0.1:8000", "127.0.0.1:8001"),
            ("https://example.com", "example.com:80"),
            ("null", "127.0.0.1:8000"),
            ("file://", "127.0.0.1:8000"),
            ("http://127.0.0.1:8000/x", "127.0.0.1:8000"),
        ] {
            assert!(!ok(Some(origin), host), "{origin} on {host}");
        }
        assert!(!p.websocket_origin_allowed(&handshake(Some("http://127.0.0.1:8000"), None)));
    }

    #[test]
    fn logins_lock_out_after_failures_and_success_clears_the_email() {
        let t = LoginThrottle::new(3, 10, Duration::from_secs(60)).unwrap();
        let ip = Some("10.0.0.1".parse().unwrap());
        for _ in 0..2 {
            t.failed("A@x.io", ip);
        }
        assert!(t.check("a@x.io", ip).is_ok());
        t.succeeded("a@x.io");
        for _ in 0..3 {
            t.failed("a@x.io", ip);
        }
        let wait = t.check("a@x.io", None).unwrap_err();
        assert!(wait > Duration::from_secs(58));
        assert!(t.check("b@x.io", ip).is_ok());
    }
}
