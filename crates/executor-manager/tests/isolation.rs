//! Isolation between tenants with the docker runtime (real daemon at `DOCKER_HOST`, the image
//! `EXECUTOR_TEST_IMAGE`, and this host's real iptables): executors of two sessions cannot reach
//! each other's API, over the bridge or through the published port; the API wants the executor's
//! own secret; an executor reaches of this host only the manager's port, and no link-local
//! address; a kept executor whose port now answers another instance is not reused.
//!
//! Needs root (iptables, `ip`); skipped like the other docker tests without `DOCKER_HOST` unless
//! `WORKCELL_REQUIRE_DOCKER=1`.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::process::Stdio;
use std::time::Duration;

use bollard::Docker;
use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use common::Harness;
use executor_manager::Settings;
use executor_manager::runtime::docker::{DockerConfig, DockerRuntime, LABEL_RUN};
use executor_manager::runtime::{ExecutorClient, LaunchSpec, Launched, Probe, Runtime};
use fake_llm::{ScenarioFile, Turn};
use sqlx::PgPool;
use test_support::docker::docker_env;
use uuid::Uuid;

const RUN_LIMIT: Duration = Duration::from_secs(180);

fn settings(image: &str, root: &std::path::Path, extra: &[(&str, &str)]) -> Settings {
    let mut v: Vec<(String, String)> = [
        ("BACKEND_URL", "http://127.0.0.1:9"),
        ("INTERNAL_API_TOKEN", "isolation-token-0123456789abcdef"),
        ("CALLBACK_BASE_URL", "http://172.17.0.1:9"),
        ("EXECUTOR_RUNTIME", "docker"),
        ("EXECUTOR_IMAGE", image),
        ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
        ("DEFAULT_MODEL", "m"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    v.push(("WORKSPACE_ROOT".into(), root.display().to_string()));
    v.push((
        "MANAGER_ID".into(),
        format!("isolation-{}", Uuid::new_v4().simple()),
    ));
    v.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_vars(v).expect("settings")
}

/// A TCP listener on every interface that accepts (and drops) connections; its port.
async fn listen_any() -> (u16, tokio::task::JoinHandle<()>) {
    let l = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let port = l.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            drop(s);
        }
    });
    (port, task)
}

/// Whether a TCP connection from inside `container` (as its user) to `ip:port` opens within 3 s.
fn reaches(container: &str, ip: &str, port: u16) -> bool {
    let script = format!(
        "timeout 3 bash -c 'exec 3<>/dev/tcp/{ip}/{port}' 2>/dev/null && echo OPEN || echo CLOSED"
    );
    let out = std::process::Command::new("docker")
        .args(["exec", "-u", "1000", container, "bash", "-c", &script])
        .stdin(Stdio::null())
        .output()
        .expect("docker exec");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("OPEN") || text.contains("CLOSED"),
        "probe from {container} failed: {text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    text.contains("OPEN")
}

fn sh(args: &[&str]) {
    let st = std::process::Command::new(args[0])
        .args(&args[1..])
        .status()
        .unwrap();
    assert!(st.success(), "{args:?}");
}

/// A network namespace behind a veth pair, holding a link-local address and a private one (not
/// denied), with a listener on `port`; removed on drop.
struct OffHost {
    ns: String,
    host_if: String,
    listener: std::process::Child,
}

impl OffHost {
    fn new(tag: &str, port: u16) -> Self {
        let ns = format!("wciso{tag}");
        let (host_if, peer) = (format!("wch{tag}"), format!("wcp{tag}"));
        sh(&["ip", "netns", "add", &ns]);
        sh(&[
            "ip", "link", "add", &host_if, "type", "veth", "peer", "name", &peer,
        ]);
        sh(&["ip", "link", "set", &peer, "netns", &ns]);
        sh(&["ip", "addr", "add", "169.254.78.1/24", "dev", &host_if]);
        sh(&["ip", "addr", "add", "10.213.78.1/24", "dev", &host_if]);
        sh(&["ip", "link", "set", &host_if, "up"]);
        for args in [
            vec!["ip", "addr", "add", "169.254.78.2/24", "dev", &peer],
            vec!["ip", "addr", "add", "10.213.78.2/24", "dev", &peer],
            vec!["ip", "link", "set", &peer, "up"],
            vec!["ip", "link", "set", "lo", "up"],
            vec!["ip", "route", "add", "default", "via", "10.213.78.1"],
        ] {
            let mut full = vec!["ip", "netns", "exec", &ns];
            full.extend(args);
            sh(&full);
        }
        let code = format!(
            "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('0.0.0.0',{port}))\ns.listen(16)\nprint('up',flush=True)\ntime.sleep(600)"
        );
        let mut listener = std::process::Command::new("ip")
            .args(["netns", "exec", &ns, "python3", "-c", &code])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        use std::io::BufRead;
        std::io::BufReader::new(listener.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "up");
        Self {
            ns,
            host_if,
            listener,
        }
    }
}

impl Drop for OffHost {
    fn drop(&mut self) {
        let _ = self.listener.kill();
        let _ = self.listener.wait();
        let _ = std::process::Command::new("ip")
            .args(["link", "del", &self.host_if])
            .status();
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.ns])
            .status();
    }
}

async fn container_ip(docker: &Docker, name: &str, network: &str) -> String {
    let info = docker.inspect_container(name, None).await.unwrap();
    info.network_settings
        .and_then(|n| n.networks)
        .and_then(|mut n| n.remove(network))
        .and_then(|e| e.ip_address)
        .filter(|ip| !ip.is_empty())
        .unwrap_or_else(|| panic!("{name} has no address on {network}"))
}

async fn gateway_of(docker: &Docker, network: &str) -> String {
    let info = docker.inspect_network(network, None).await.unwrap();
    info.ipam
        .and_then(|i| i.config)
        .and_then(|c| c.into_iter().find_map(|c| c.gateway))
        .expect("network gateway")
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn executors_reach_neither_each_other_nor_the_host_nor_link_local_addresses() {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    let s = settings(&image, root.path(), &[]);
    let network = s.executor_network.clone();
    let runtime = DockerRuntime::connect(DockerConfig::from_settings(&s))
        .await
        .expect("docker runtime");
    // The manager's port (callbacks) and another port of this host.
    let (manager_port, _m) = listen_any().await;
    let (other_port, _o) = listen_any().await;
    let _guard = runtime
        .isolate(manager_port)
        .await
        .expect("the firewall installs as root")
        .expect("restricted policy installs a firewall");

    let client = ExecutorClient::new();
    let mut launched: Vec<(Uuid, Launched)> = Vec::new();
    for _ in 0..2 {
        let run_id = Uuid::new_v4();
        let ws = root.path().join(run_id.to_string());
        std::fs::create_dir_all(&ws).unwrap();
        let spec = LaunchSpec {
            run_id,
            session_id: Uuid::new_v4(),
            user_id: Uuid::new_v4(),
            epoch: 1,
            workspace: ws,
            env: BTreeMap::from([("DEFAULT_MODEL".into(), "m".into())]),
        };
        let mut l = runtime.launch(&spec).await.expect("launch");
        client
            .wait_ready(&l.endpoint, l.handle.as_mut(), Duration::from_secs(60))
            .await
            .expect("ready");
        launched.push((run_id, l));
    }
    let (run_a, a) = &launched[0];
    let (run_b, b) = &launched[1];
    let name_a = DockerRuntime::container_name(*run_a);
    let name_b = DockerRuntime::container_name(*run_b);
    assert_ne!(a.endpoint.credentials, b.endpoint.credentials);

    // Published on loopback only.
    let info = docker.inspect_container(&name_a, None).await.unwrap();
    let bindings = info
        .host_config
        .and_then(|h| h.port_bindings)
        .unwrap_or_default();
    let host_ips: Vec<String> = bindings
        .values()
        .flatten()
        .flatten()
        .filter_map(|b| b.host_ip.clone())
        .collect();
    assert_eq!(host_ips, vec!["127.0.0.1"]);

    // From the host: A's API wants A's secret; /health answers A's instance id.
    let port_a = port_of(&a.endpoint.base_url);
    let http = reqwest::Client::new();
    let status_url = format!("{}/v1/tasks/{run_a}", a.endpoint.base_url);
    assert_eq!(http.get(&status_url).send().await.unwrap().status(), 401);
    let wrong = http
        .get(&status_url)
        .bearer_auth(&b.endpoint.credentials.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let body: serde_json::Value = wrong.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized");
    let execute = http
        .post(format!("{}/v1/tasks/execute", a.endpoint.base_url))
        .json(&serde_json::json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(execute.status(), 401);
    // With the secret: not 401 (no such task yet: 404; its id was never executed here).
    let right = http
        .get(&status_url)
        .bearer_auth(&a.endpoint.credentials.secret)
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 404);
    let health: serde_json::Value = http
        .get(format!("{}/health", a.endpoint.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["instance"], a.endpoint.credentials.instance.as_str());
    assert_eq!(client.probe(&a.endpoint).await, Probe::Ours);
    let mut as_b = a.endpoint.clone();
    as_b.credentials.instance = b.endpoint.credentials.instance.clone();
    assert_eq!(client.probe(&as_b).await, Probe::Other);

    // From inside B.
    let ip_a = container_ip(&docker, &name_a, &network).await;
    let own_gateway = gateway_of(&docker, &network).await;
    // The manager's port is reachable through both gateways (CALLBACK_BASE_URL uses docker0's):
    // this also shows the probe itself works.
    assert!(
        reaches(&name_b, &gateway, manager_port),
        "manager port via {gateway}"
    );
    assert!(
        reaches(&name_b, &own_gateway, manager_port),
        "manager port via {own_gateway}"
    );
    // A's API: not over the bridge, not through its published port on any host address.
    assert!(!reaches(&name_b, &ip_a, 8000), "A's container address");
    assert!(
        !reaches(&name_b, &gateway, port_a),
        "A's published port via {gateway}"
    );
    assert!(
        !reaches(&name_b, &own_gateway, port_a),
        "A's published port via {own_gateway}"
    );
    // Another port of this host (it answers the host itself).
    assert!(
        tokio::net::TcpStream::connect(("127.0.0.1", other_port))
            .await
            .is_ok()
    );
    assert!(!reaches(&name_b, &gateway, other_port), "other host port");
    assert!(
        !reaches(&name_b, &own_gateway, other_port),
        "other host port"
    );

    // Off the host: a private address is routed (not denied), a link-local one is not.
    let tag = format!("{:05x}", rand_tag());
    let off = OffHost::new(&tag, 7177);
    assert!(
        reaches(&name_b, "10.213.78.2", 7177),
        "a routed private address"
    );
    assert!(
        !reaches(&name_b, "169.254.78.2", 7177),
        "a link-local address off the host"
    );
    // A link-local address of the host itself, even at the manager's port.
    assert!(
        !reaches(&name_b, "169.254.78.1", manager_port),
        "a link-local host address"
    );
    drop(off);

    for (_, mut l) in launched {
        l.handle.stop().await;
    }
}

fn rand_tag() -> u32 {
    (Uuid::new_v4().as_u128() & 0xfffff) as u32
}

#[tokio::test]
async fn an_existing_network_that_lets_containers_talk_is_refused() {
    let Some((docker, image, _)) = docker_env() else {
        return;
    };
    let name = format!("wc-test-icc-{}", Uuid::new_v4().simple());
    docker
        .create_network(bollard::models::NetworkCreateRequest {
            name: name.clone(),
            driver: Some("bridge".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let root = tempfile::tempdir().unwrap();
    let s = settings(&image, root.path(), &[("EXECUTOR_NETWORK", name.as_str())]);
    let err = DockerRuntime::connect(DockerConfig::from_settings(&s))
        .await
        .err()
        .expect("refused")
        .to_string();
    let _ = docker.remove_network(&name).await;
    assert!(
        err.starts_with(&format!(
            "EXECUTOR_NETWORK `{name}` lets containers reach each other"
        )),
        "{err}"
    );
    assert!(!err.contains('\n'), "{err}");
}

#[tokio::test]
async fn restricted_egress_without_iptables_stops_the_manager_with_one_line() {
    let Some((_, image, _)) = docker_env() else {
        return;
    };
    let root = tempfile::tempdir().unwrap();
    // The manager binary with a PATH holding no iptables.
    let empty = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_executor-manager");
    let out = tokio::process::Command::new(bin)
        .env_clear()
        .env("PATH", empty.path())
        .env(
            "DOCKER_HOST",
            std::env::var("DOCKER_HOST").unwrap_or_default(),
        )
        .env("BACKEND_URL", "http://127.0.0.1:9")
        .env("INTERNAL_API_TOKEN", "isolation-token-0123456789abcdef")
        .env("CALLBACK_BASE_URL", "http://172.17.0.1:9")
        .env("WORKSPACE_ROOT", root.path())
        .env("EXECUTOR_IMAGE", &image)
        .env("HOST", "127.0.0.1")
        .env("PORT", "0")
        .env("LOG_LEVEL", "error")
        .output()
        .await
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr
        .lines()
        .find(|l| l.contains("EXECUTOR_EGRESS_POLICY"))
        .unwrap_or_else(|| panic!("no line names the variable: {stderr}"));
    assert!(
        line.contains("iptables") && line.contains("EXECUTOR_EGRESS_POLICY=open"),
        "{line}"
    );
}

fn scenarios() -> ScenarioFile {
    ScenarioFile::default().with_scenario("quick", vec![Turn::text("Quick.")])
}

/// The session's executor is kept warm; its container dies and another executor takes its
/// published port. The next run must not go there: the manager sees another instance id, drops
/// the kept executor and starts a new one.
#[sqlx::test(migrator = "backend::db::MIGRATOR")]
async fn a_kept_executor_answering_as_another_instance_is_not_reused(pool: PgPool) {
    let Some((docker, image, gateway)) = docker_env() else {
        return;
    };
    let mut h = Harness::start_with(
        pool,
        scenarios(),
        &[
            ("EXECUTOR_RUNTIME", "docker"),
            ("EXECUTOR_IMAGE", image.as_str()),
            ("EXECUTOR_PUBLISHED_HOST", "127.0.0.1"),
            ("EXECUTOR_WARM_IDLE_SECONDS", "300"),
        ],
        Some(&gateway),
    )
    .await;
    let (session, first) = h.task("[scenario:quick] one").await;
    assert_eq!(
        h.wait_status(first, &["completed"], RUN_LIMIT).await,
        "completed"
    );
    let user = h.user_of(session).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while h.kept.warm.is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "nothing parked warm"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Look at the parked executor and put it back.
    let kept = h
        .kept
        .warm
        .take(user, session)
        .expect("parked for the session");
    let endpoint = kept.endpoint.clone();
    h.kept.warm.park(user, session, kept).await;
    let port = port_of(&endpoint.base_url);

    // Its container dies; an impostor (another secret and instance) takes the port.
    let name = DockerRuntime::container_name(first);
    docker
        .remove_container(
            &name,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await
        .unwrap();
    let impostor = format!("workcell-impostor-{}", Uuid::new_v4().simple());
    let secret = "impostor-secret-0123456789abcdef0123456789";
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(&impostor).build()),
            ContainerCreateBody {
                image: Some(image.clone()),
                env: Some(vec![
                    "DEFAULT_MODEL=m".into(),
                    format!("EXECUTOR_API_SECRET={secret}"),
                    "EXECUTOR_INSTANCE_ID=impostor".into(),
                ]),
                exposed_ports: Some(vec!["8000/tcp".into()]),
                host_config: Some(HostConfig {
                    port_bindings: Some(HashMap::from([(
                        "8000/tcp".to_owned(),
                        Some(vec![PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(port.to_string()),
                        }]),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    docker.start_container(&impostor, None).await.unwrap();
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(r) = http
            .get(format!("{}/health", endpoint.base_url))
            .send()
            .await
            && let Ok(v) = r.json::<serde_json::Value>().await
        {
            assert_eq!(v["instance"], "impostor");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "impostor not up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let second = h.task_in(session, "[scenario:quick] two").await;
    assert_eq!(
        h.wait_status(second, &["completed"], RUN_LIMIT).await,
        "completed"
    );
    // A new container ran it (labelled with its run) ...
    let filters = HashMap::from([("label", vec![format!("{LABEL_RUN}={second}")])]);
    let list = docker
        .list_containers(Some(
            ListContainersOptionsBuilder::new()
                .all(true)
                .filters(&filters)
                .build(),
        ))
        .await
        .unwrap();
    assert_eq!(list.len(), 1, "the second run got a new container");
    // ... and the impostor never saw it.
    let seen = http
        .get(format!("{}/v1/tasks/{second}", endpoint.base_url))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), 404);
    h.stop_manager(Duration::from_secs(60)).await;
    let _ = docker
        .remove_container(
            &impostor,
            Some(RemoveContainerOptionsBuilder::new().force(true).build()),
        )
        .await;
}
