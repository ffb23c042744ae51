//! Field validators, named in a settings struct as `#[serde(deserialize_with = "...")]`.
//!
//! Each refuses a bad value with a short reason; the config crate tells the loader which field
//! (variable) it came from, so the service stops with the one line `VAR is invalid: reason`. A
//! default never passes through a validator: defaults are valid by construction. Validators that
//! return a `T: From<…>` serve `String`, `Option<String>` and `Secret<String>` fields alike.

use std::fmt::Display;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use ipnet::{IpNet, Ipv4Net};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer};

/// Deserializes a `V` and turns it into the field's value with `parse`, whose `Err` is the reason
/// the value is refused. The building block of the validators here and of a service's own.
pub fn parse_with<'de, D, V, U, T>(
    d: D,
    parse: impl FnOnce(V) -> Result<U, String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
    T: From<U>,
{
    parse(V::deserialize(d)?)
        .map(T::from)
        .map_err(D::Error::custom)
}

/// Deserializes a `V` and keeps it if `check` accepts it (its `Err` is the reason; see [`ensure`]).
pub fn verify<'de, D, V, T>(
    d: D,
    check: impl FnOnce(&V) -> Result<(), String>,
) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    V: Deserialize<'de>,
    T: From<V>,
{
    parse_with(d, |v: V| check(&v).map(|()| v))
}

/// `Ok` if `holds`, else the reason: the body of most [`verify`] checks.
pub fn ensure(holds: bool, reason: impl Into<String>) -> Result<(), String> {
    if holds { Ok(()) } else { Err(reason.into()) }
}

/// A comma-separated list: blank items are dropped, each other item (trimmed) is parsed by
/// `item`, whose `Err` is the reason.
pub fn list_with<'de, D, U>(
    d: D,
    item: impl Fn(&str) -> Result<U, String>,
) -> Result<Vec<U>, D::Error>
where
    D: Deserializer<'de>,
{
    parse_with(d, |text: String| {
        text.split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .map(item)
            .collect::<Result<Vec<U>, String>>()
    })
}

/// The integer types the bounds below (and [`crate::default::Int`]) apply to.
pub trait Integer: Copy + Display {
    const MIN: i128;
    const MAX: i128;
    fn widen(self) -> i128;
    /// `n` as this type; callers make sure it is in `MIN..=MAX`.
    fn narrow(n: i128) -> Self;
}

macro_rules! integer {
    ($($t:ty),*) => {$(
        impl Integer for $t {
            const MIN: i128 = <$t>::MIN as i128;
            const MAX: i128 = <$t>::MAX as i128;
            fn widen(self) -> i128 {
                self as i128
            }
            fn narrow(n: i128) -> Self {
                n as $t
            }
        }
    )*};
}
integer!(u8, u16, u32, u64, usize, i32, i64);

fn bounded<'de, D, T>(d: D, min: i128, max: i128) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Integer + Deserialize<'de>,
{
    verify(d, |v: &T| {
        let n = v.widen();
        match (n < min, n > max) {
            (false, false) => Ok(()),
            _ if max == i128::MAX => Err(format!("must be at least {min}, got {v}")),
            _ if min == i128::MIN => Err(format!("must be at most {max}, got {v}")),
            _ => Err(format!("must be between {min} and {max}, got {v}")),
        }
    })
}

/// An integer of at least `MIN`: `deserialize_with = "AtLeast::<1>::de"` (non-zero counts and
/// durations).
pub struct AtLeast<const MIN: i128>;

impl<const MIN: i128> AtLeast<MIN> {
    pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Integer + Deserialize<'de>,
    {
        bounded(d, MIN, i128::MAX)
    }
}

/// An integer of at most `MAX`: `deserialize_with = "AtMost::<60>::de"`.
pub struct AtMost<const MAX: i128>;

impl<const MAX: i128> AtMost<MAX> {
    pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Integer + Deserialize<'de>,
    {
        bounded(d, i128::MIN, MAX)
    }
}

/// An integer in `MIN..=MAX`: `deserialize_with = "Range::<5, 3600>::de"`.
pub struct Range<const MIN: i128, const MAX: i128>;

impl<const MIN: i128, const MAX: i128> Range<MIN, MAX> {
    pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: Integer + Deserialize<'de>,
    {
        bounded(d, MIN, MAX)
    }
}

/// A text of at least `N` bytes, for secrets: the reason never shows the value.
pub struct MinBytes<const N: usize>;

impl<const N: usize> MinBytes<N> {
    pub fn de<'de, D, T>(d: D) -> Result<T, D::Error>
    where
        D: Deserializer<'de>,
        T: From<String>,
    {
        verify(d, |v: &String| {
            ensure(v.len() >= N, format!("must be at least {N} bytes"))
        })
    }
}

/// A finite number above zero (CPU shares).
pub fn positive_number<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    verify(d, |v: &f64| {
        ensure(
            *v > 0.0 && v.is_finite(),
            format!("must be a positive number, got {v}"),
        )
    })
}

fn http(url: &str) -> Result<(), String> {
    ensure(
        url.starts_with("http://") || url.starts_with("https://"),
        format!("expected an http:// or https:// URL, got `{url}`"),
    )
}

/// An `http://` or `https://` URL.
pub fn http_url<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    verify(d, |url: &String| http(url))
}

/// An `http://` or `https://` URL that paths are appended to: trailing slashes are dropped.
pub fn http_base_url<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    parse_with(d, |url: String| {
        let url = url.trim_end_matches('/').to_owned();
        http(&url).map(|()| url)
    })
}

/// An IP address (v4 or v6), kept as written.
pub fn ip_address<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<String>,
{
    verify(d, |v: &String| {
        v.parse::<IpAddr>()
            .map(|_| ())
            .map_err(|_| format!("expected an IP address, got `{v}`"))
    })
}

/// An absolute path.
pub fn absolute_path<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: From<PathBuf>,
{
    verify(d, |p: &PathBuf| {
        ensure(
            p.is_absolute(),
            format!("must be an absolute path, got `{}`", p.display()),
        )
    })
}

/// A list item: a network in CIDR notation (host bits cleared) or one address (a /32 or /128).
pub fn ip_network(item: &str) -> Result<IpNet, String> {
    item.parse::<IpNet>()
        .map(|n| n.trunc())
        .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{item}` is not a CIDR (10.0.0.0/8) or an IP address"))
}

/// A list item: an IPv4 network in CIDR notation, kept as written, or one address (a /32).
pub fn ipv4_network(item: &str) -> Result<Ipv4Net, String> {
    item.parse::<Ipv4Net>()
        .or_else(|_| item.parse::<Ipv4Addr>().map(Ipv4Net::from))
        .map_err(|_| format!("`{item}` is not an IPv4 CIDR (10.0.0.0/8) or an IPv4 address"))
}

/// A list item: a TCP port (1 to 65535).
pub fn tcp_port(item: &str) -> Result<u16, String> {
    item.parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("`{item}` is not a TCP port"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Secret, SettingsError, load_from};

    fn ip_networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
        list_with(d, ip_network)
    }
    fn ipv4_networks<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Ipv4Net>, D::Error> {
        list_with(d, ipv4_network)
    }
    fn tcp_ports<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u16>, D::Error> {
        list_with(d, tcp_port)
    }

    /// One field per validator; all optional, so each test sets only the one it tries.
    #[derive(Debug, Default, Deserialize)]
    #[serde(default)]
    struct S {
        #[serde(deserialize_with = "AtLeast::<1>::de")]
        interval_seconds: u64,
        #[serde(deserialize_with = "AtMost::<60>::de")]
        wait_seconds: u32,
        #[serde(deserialize_with = "Range::<5, 3600>::de")]
        lease_seconds: i32,
        #[serde(deserialize_with = "Range::<1, 10_000>::de")]
        batch_size: usize,
        #[serde(deserialize_with = "MinBytes::<16>::de")]
        token: Secret<String>,
        #[serde(deserialize_with = "positive_number")]
        cpus: f64,
        #[serde(deserialize_with = "http_url")]
        endpoint: Option<String>,
        #[serde(deserialize_with = "http_base_url")]
        backend_url: String,
        #[serde(deserialize_with = "ip_address")]
        host: String,
        #[serde(deserialize_with = "absolute_path")]
        root: PathBuf,
        #[serde(deserialize_with = "ip_networks")]
        proxies: Vec<IpNet>,
        #[serde(deserialize_with = "ipv4_networks")]
        deny: Vec<Ipv4Net>,
        #[serde(deserialize_with = "tcp_ports")]
        ports: Vec<u16>,
        mode: Option<Mode>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Mode {
        SingleUser,
    }

    fn load(var: &str, value: &str) -> Result<S, SettingsError> {
        load_from([(var.to_owned(), value.to_owned())], &[])
    }

    /// The one line a refused value gives.
    fn refused(var: &str, value: &str) -> String {
        let err = load(var, value)
            .err()
            .unwrap_or_else(|| panic!("{var}={value} accepted"));
        assert!(
            matches!(&err, SettingsError::Invalid { var: v, .. } if v == var),
            "{var}={value}: {err:?}"
        );
        let line = err.to_string();
        assert!(line.starts_with(&format!("{var} is invalid: ")), "{line}");
        assert_eq!(line.lines().count(), 1, "{line}");
        line
    }

    #[test]
    fn integer_bounds() {
        assert_eq!(
            refused("INTERVAL_SECONDS", "0"),
            "INTERVAL_SECONDS is invalid: must be at least 1, got 0"
        );
        assert_eq!(load("INTERVAL_SECONDS", "1").unwrap().interval_seconds, 1);
        assert_eq!(
            refused("WAIT_SECONDS", "61"),
            "WAIT_SECONDS is invalid: must be at most 60, got 61"
        );
        assert_eq!(load("WAIT_SECONDS", "60").unwrap().wait_seconds, 60);
        assert_eq!(
            refused("LEASE_SECONDS", "4"),
            "LEASE_SECONDS is invalid: must be between 5 and 3600, got 4"
        );
        refused("LEASE_SECONDS", "3601");
        refused("LEASE_SECONDS", "-5");
        assert_eq!(load("LEASE_SECONDS", "3600").unwrap().lease_seconds, 3600);
        refused("BATCH_SIZE", "10001");
        assert_eq!(load("BATCH_SIZE", "10000").unwrap().batch_size, 10_000);
        // Not a number at all: the config crate's own message, still naming the variable.
        let line = refused("BATCH_SIZE", "many");
        assert!(line.contains("many"), "{line}");
    }

    #[test]
    fn secrets_are_refused_without_showing_them() {
        let line = refused("TOKEN", "short-secret");
        assert_eq!(line, "TOKEN is invalid: must be at least 16 bytes");
        let s = load("TOKEN", "long-enough-secret-0123").unwrap();
        assert_eq!(s.token.expose(), "long-enough-secret-0123");
    }

    #[test]
    fn numbers_and_addresses() {
        refused("CPUS", "0");
        refused("CPUS", "-1");
        refused("CPUS", "inf");
        assert_eq!(load("CPUS", "0.5").unwrap().cpus, 0.5);
        refused("HOST", "localhost");
        assert_eq!(load("HOST", "::1").unwrap().host, "::1");
        assert_eq!(
            refused("ROOT", "relative/path"),
            "ROOT is invalid: must be an absolute path, got `relative/path`"
        );
        assert_eq!(load("ROOT", "/srv").unwrap().root, PathBuf::from("/srv"));
    }

    #[test]
    fn urls() {
        assert_eq!(
            refused("ENDPOINT", "localhost:9000"),
            "ENDPOINT is invalid: expected an http:// or https:// URL, got `localhost:9000`"
        );
        assert_eq!(
            load("ENDPOINT", "https://s3.example").unwrap().endpoint,
            Some("https://s3.example".to_owned())
        );
        refused("BACKEND_URL", "backend:8000");
        refused("BACKEND_URL", "http://");
        assert_eq!(
            load("BACKEND_URL", "http://backend:8000//")
                .unwrap()
                .backend_url,
            "http://backend:8000"
        );
    }

    #[test]
    fn comma_lists() {
        let s = load("PROXIES", " 10.1.2.3/8 , 192.0.2.7,,fd00::/8 ").unwrap();
        assert_eq!(
            s.proxies.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["10.0.0.0/8", "192.0.2.7/32", "fd00::/8"]
        );
        refused("PROXIES", "10.0.0.0/33");
        let line = refused("PROXIES", "127.0.0.1/32,proxy.internal");
        assert!(line.contains("`proxy.internal`"), "{line}");
        let s = load("DENY", "169.254.0.0/16,192.168.1.1, 10.1.2.3/8").unwrap();
        assert_eq!(
            s.deny.iter().map(|n| n.to_string()).collect::<Vec<_>>(),
            ["169.254.0.0/16", "192.168.1.1/32", "10.1.2.3/8"]
        );
        refused("DENY", "10.0.0.0/33");
        refused("DENY", "fd00::/8");
        refused("DENY", "metadata");
        assert_eq!(load("PORTS", "9000, 11434").unwrap().ports, [9000, 11434]);
        refused("PORTS", "0");
        refused("PORTS", "http");
        refused("PORTS", "65536");
    }

    #[test]
    fn enum_like_strings_name_the_variable() {
        assert!(load("MODE", "single_user").unwrap().mode.is_some());
        let line = refused("MODE", "ldap");
        assert!(line.contains("ldap"), "{line}");
    }
}
