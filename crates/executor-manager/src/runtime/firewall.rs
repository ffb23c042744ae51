//! The executors' egress rules (`EXECUTOR_EGRESS_POLICY=restricted`, the default with the docker
//! runtime), installed by the manager itself with the `iptables` binary.
//!
//! Why the manager: Docker's own rules cannot be relied on (a daemon may run with
//! `--iptables=false`, and even with them a container reaches every port of the host through
//! the network's gateway). Executors sit on their own bridge (`EXECUTOR_NETWORK`, interface
//! `wc-…`); everything they send enters the host through that interface, so two chains keyed on
//! it are enough:
//!
//! - `WCFWD-<bridge>`, jumped to from `FORWARD` (or `DOCKER-USER` when Docker manages iptables)
//!   for `-i <bridge>`: drops traffic to the same bridge (executor to executor: `icc=false`
//!   enforced even when Docker installs no rules), to other Docker bridges (`docker0`, `br-*`:
//!   the compose services), and to every range of `EXECUTOR_EGRESS_DENY` (default
//!   `169.254.0.0/16`, cloud metadata). The rest (the internet) passes.
//! - `WCIN-<bridge>`, jumped to from `INPUT` for `-i <bridge>` (traffic for the host itself,
//!   whichever of its addresses is dialled: the gateway, `host.docker.internal`, a public IP):
//!   accepts established/related traffic, drops `EXECUTOR_EGRESS_DENY` destinations (a host
//!   address in a denied range), accepts TCP to the manager's own port (callbacks) and to
//!   `EXECUTOR_EGRESS_HOST_PORTS`, and drops everything else (backend, S3, database, SSH, …).
//!
//! Several managers (tests run many at once) may share a host and a bridge: the input chain
//! keeps the ports of the others as long as something still listens on them on this host, and
//! each manager removes its own port when it stops ([`Guard`]). Both chains are rebuilt in one
//! `iptables-restore --noflush` transaction (never empty in between), under a lock file so that
//! two managers starting at once do not drop each other's port. The jumps are checked (`-C`)
//! before they are inserted. What stays after a manager stops only restricts executors.
//!
//! IPv6 is not handled: the executor network is created without it.

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

/// The `iptables` binary (from `PATH`).
const IPTABLES: &str = "iptables";
const IPTABLES_RESTORE: &str = "iptables-restore";

/// What to install for one executor bridge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rules {
    /// The bridge interface of `EXECUTOR_NETWORK`.
    pub bridge: String,
    /// IPv4 ranges executors may not reach (`EXECUTOR_EGRESS_DENY`).
    pub deny: Vec<String>,
    /// The manager's listening port.
    pub manager_port: u16,
    /// Other host ports executors may reach (`EXECUTOR_EGRESS_HOST_PORTS`).
    pub host_ports: Vec<u16>,
}

/// Why the rules could not be installed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct FirewallError(String);

impl Rules {
    pub fn input_chain(&self) -> String {
        format!("WCIN-{}", self.bridge)
    }

    pub fn forward_chain(&self) -> String {
        format!("WCFWD-{}", self.bridge)
    }

    /// The `iptables-restore --noflush` input rebuilding both chains with `ports` accepted.
    fn restore_input(&self, ports: &BTreeSet<u16>) -> String {
        let (input, forward, bridge) = (self.input_chain(), self.forward_chain(), &self.bridge);
        let mut out = String::from("*filter\n");
        // Declaring a chain under --noflush empties it; the new content lands in the same commit.
        out.push_str(&format!(":{input} - [0:0]\n:{forward} - [0:0]\n"));
        out.push_str(&format!(
            "-A {input} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
        ));
        // A denied range holding an address of this host itself is refused here too.
        for range in &self.deny {
            out.push_str(&format!("-A {input} -d {range} -j DROP\n"));
        }
        for port in ports {
            out.push_str(&format!("{}\n", accept_rule(&input, *port)));
        }
        out.push_str(&format!("-A {input} -j DROP\n"));
        out.push_str(&format!("-A {forward} -o {bridge} -j DROP\n"));
        for other in ["docker0", "br-+"] {
            if other != bridge {
                out.push_str(&format!("-A {forward} -o {other} -j DROP\n"));
            }
        }
        for range in &self.deny {
            out.push_str(&format!("-A {forward} -d {range} -j DROP\n"));
        }
        out.push_str("COMMIT\n");
        out
    }
}

/// The rule accepting TCP to `port`, as `iptables -S` prints it.
fn accept_rule(chain: &str, port: u16) -> String {
    format!("-A {chain} -p tcp -m tcp --dport {port} -j ACCEPT")
}

/// Runs `iptables -w ARGS`; its stderr on failure.
fn iptables(args: &[&str]) -> Result<String, String> {
    let out = Command::new(IPTABLES)
        .arg("-w")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "the iptables binary is not installed".to_owned()
            } else {
                format!("cannot run iptables: {e}")
            }
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr)
            .trim()
            .replace('\n', "; "))
    }
}

/// TCP ports something listens on in this network namespace (`/proc/net/tcp`, `tcp6`).
pub fn listening_ports() -> BTreeSet<u16> {
    let mut ports = BTreeSet::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let mut fields = line.split_whitespace();
            let (Some(local), Some(state)) = (fields.nth(1), fields.nth(1)) else {
                continue;
            };
            if state != "0A" {
                continue;
            }
            if let Some(port) = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
            {
                ports.insert(port);
            }
        }
    }
    ports
}

/// The ports an existing input chain accepts (from `iptables -S`).
fn accepted_ports(chain: &str, listing: &str) -> BTreeSet<u16> {
    let prefix = format!("-A {chain} -p tcp -m tcp --dport ");
    listing
        .lines()
        .filter_map(|l| {
            l.strip_prefix(&prefix)?
                .strip_suffix(" -j ACCEPT")?
                .parse()
                .ok()
        })
        .collect()
}

/// Holds the lock file while managers on this host rebuild the shared chains.
fn lock() -> Result<std::fs::File, String> {
    let path = std::env::temp_dir().join("workcell-firewall.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    file.lock()
        .map_err(|e| format!("cannot lock {}: {e}", path.display()))?;
    Ok(file)
}

/// Installs `rules` (blocking: run off the async threads). The guard removes this manager's port
/// when dropped.
pub fn install(rules: &Rules) -> Result<Guard, FirewallError> {
    let fail = |what: &str, e: String| FirewallError(format!("{what}: {e}"));
    if !std::path::Path::new("/sys/class/net")
        .join(&rules.bridge)
        .exists()
    {
        return Err(FirewallError(format!(
            "the bridge interface {} is not in this network namespace (run the manager in the \
             host's network namespace, e.g. network_mode: host)",
            rules.bridge
        )));
    }
    let _lock = lock().map_err(|e| fail("cannot serialise the rule changes", e))?;
    let input = rules.input_chain();
    let existing = match iptables(&["-S", &input]) {
        Ok(listing) => accepted_ports(&input, &listing),
        Err(_) => BTreeSet::new(),
    };
    // Other managers' ports stay while they are served; stale ones (a killed manager) go.
    let listening = listening_ports();
    let mut ports: BTreeSet<u16> = existing
        .into_iter()
        .filter(|p| listening.contains(p))
        .collect();
    ports.insert(rules.manager_port);
    ports.extend(rules.host_ports.iter().copied());
    let mut child = Command::new(IPTABLES_RESTORE)
        .args(["-w", "--noflush"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            fail(
                "cannot run iptables-restore",
                if e.kind() == std::io::ErrorKind::NotFound {
                    "the iptables binary is not installed".to_owned()
                } else {
                    e.to_string()
                },
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(rules.restore_input(&ports).as_bytes())
            .map_err(|e| fail("cannot feed iptables-restore", e.to_string()))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| fail("iptables-restore", e.to_string()))?;
    if !out.status.success() {
        return Err(fail(
            "iptables-restore refused the rules",
            String::from_utf8_lossy(&out.stderr)
                .trim()
                .replace('\n', "; "),
        ));
    }
    // Docker evaluates DOCKER-USER before its own forwarding rules when it manages iptables.
    let forward_parent = if iptables(&["-S", "DOCKER-USER"]).is_ok() {
        "DOCKER-USER"
    } else {
        "FORWARD"
    };
    for (parent, chain) in [
        ("INPUT", input.as_str()),
        (forward_parent, &rules.forward_chain()),
    ] {
        let jump = ["-i", rules.bridge.as_str(), "-j", chain];
        let mut check = vec!["-C", parent];
        check.extend_from_slice(&jump);
        if iptables(&check).is_err() {
            let mut insert = vec!["-I", parent, "1"];
            insert.extend_from_slice(&jump);
            iptables(&insert).map_err(|e| fail(&format!("cannot jump from {parent}"), e))?;
        }
    }
    tracing::info!(
        bridge = %rules.bridge,
        input_chain = %input,
        forward_chain = %rules.forward_chain(),
        forward_parent,
        host_ports = ?ports,
        deny = ?rules.deny,
        "executor egress rules installed"
    );
    Ok(Guard {
        chain: input,
        port: rules.manager_port,
    })
}

/// This manager's part of the rules: its port in the input chain, removed on drop (executors
/// then reach nothing on the host until a manager starts again).
#[derive(Debug)]
pub struct Guard {
    chain: String,
    port: u16,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let _lock = lock();
        let rule = accept_rule(&self.chain, self.port);
        let args: Vec<&str> = rule.split(' ').skip(1).collect();
        let mut delete = vec!["-D"];
        delete.extend(args);
        match iptables(&delete) {
            Ok(_) => tracing::debug!(
                port = self.port,
                "manager port removed from the executor firewall"
            ),
            Err(e) => {
                tracing::warn!(port = self.port, error = %e, "cannot remove the manager port from the executor firewall")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> Rules {
        Rules {
            bridge: "wc-0123abcd".into(),
            deny: vec!["169.254.0.0/16".into(), "10.0.0.0/8".into()],
            manager_port: 8001,
            host_ports: vec![9999],
        }
    }

    #[test]
    fn the_restore_input_drops_by_default_and_names_the_bridge() {
        let r = rules();
        let text = r.restore_input(&BTreeSet::from([8001, 9999]));
        assert_eq!(
            text,
            "*filter\n\
             :WCIN-wc-0123abcd - [0:0]\n\
             :WCFWD-wc-0123abcd - [0:0]\n\
             -A WCIN-wc-0123abcd -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
             -A WCIN-wc-0123abcd -d 169.254.0.0/16 -j DROP\n\
             -A WCIN-wc-0123abcd -d 10.0.0.0/8 -j DROP\n\
             -A WCIN-wc-0123abcd -p tcp -m tcp --dport 8001 -j ACCEPT\n\
             -A WCIN-wc-0123abcd -p tcp -m tcp --dport 9999 -j ACCEPT\n\
             -A WCIN-wc-0123abcd -j DROP\n\
             -A WCFWD-wc-0123abcd -o wc-0123abcd -j DROP\n\
             -A WCFWD-wc-0123abcd -o docker0 -j DROP\n\
             -A WCFWD-wc-0123abcd -o br-+ -j DROP\n\
             -A WCFWD-wc-0123abcd -d 169.254.0.0/16 -j DROP\n\
             -A WCFWD-wc-0123abcd -d 10.0.0.0/8 -j DROP\n\
             COMMIT\n"
        );
        assert!(r.input_chain().len() <= 28 && r.forward_chain().len() <= 28);
    }

    #[test]
    fn accepted_ports_are_read_back_from_the_listing() {
        let listing = "-N WCIN-x\n\
                       -A WCIN-x -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n\
                       -A WCIN-x -p tcp -m tcp --dport 8001 -j ACCEPT\n\
                       -A WCIN-x -p tcp -m tcp --dport 40123 -j ACCEPT\n\
                       -A WCIN-x -p tcp -m tcp --dport 5 -j DROP\n\
                       -A WCIN-x -j DROP\n";
        assert_eq!(
            accepted_ports("WCIN-x", listing),
            BTreeSet::from([8001, 40123])
        );
    }

    #[test]
    fn listening_ports_include_a_fresh_listener() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        assert!(listening_ports().contains(&port));
        drop(l);
    }
}
