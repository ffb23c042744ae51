//! Loopback ports, and where the servers that executors call (the scripted model server, the
//! manager's callbacks) listen and how executors address them.

use std::net::SocketAddr;

/// A TCP port nobody listens on right now (loopback).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// How executors reach a server on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reach<'a> {
    /// Executors are child processes here: listen and announce on loopback.
    Loopback,
    /// Executors are containers: listen on every interface, announced at the gateway (the host
    /// as containers see it, [`crate::docker::gateway`]).
    Gateway(&'a str),
}

impl Reach<'_> {
    /// The address to listen on.
    pub fn bind_host(self) -> &'static str {
        match self {
            Reach::Loopback => "127.0.0.1",
            Reach::Gateway(_) => "0.0.0.0",
        }
    }

    /// A listen address on a port the system picks.
    pub fn listen(self) -> SocketAddr {
        SocketAddr::new(self.bind_host().parse().expect("an IP address"), 0)
    }

    /// The host executors use.
    pub fn host(&self) -> &str {
        match self {
            Reach::Loopback => "127.0.0.1",
            Reach::Gateway(gateway) => gateway,
        }
    }

    /// `http://<host>:<port>` as executors see it.
    pub fn url(&self, port: u16) -> String {
        format!("http://{}:{port}", self.host())
    }
}
