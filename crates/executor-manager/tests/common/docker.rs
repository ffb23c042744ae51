//! The Docker daemon and executor image the docker-runtime tests use.

/// `(daemon, image, gateway)`, or `None` (skip, with a message) when `DOCKER_HOST` is unset and
/// `WORKCELL_REQUIRE_DOCKER` is not `1` (then it panics instead).
///
/// - image: `EXECUTOR_TEST_IMAGE`, default `workcell/executor-test:dev` (`tests/docker-env.sh`);
/// - gateway: `DOCKER_GATEWAY`, default `172.17.0.1`, the host as containers see it.
pub fn docker_env() -> Option<(bollard::Docker, String, String)> {
    if std::env::var("DOCKER_HOST").map_or(true, |h| h.is_empty()) {
        if std::env::var("WORKCELL_REQUIRE_DOCKER").as_deref() == Ok("1") {
            panic!(
                "WORKCELL_REQUIRE_DOCKER=1 but DOCKER_HOST is unset: run \
                 `eval \"$(crates/executor-manager/tests/docker-env.sh)\"` first"
            );
        }
        eprintln!("SKIPPED: DOCKER_HOST is unset (set WORKCELL_REQUIRE_DOCKER=1 to fail instead)");
        return None;
    }
    let docker =
        bollard::Docker::connect_with_defaults().expect("DOCKER_HOST is not a usable daemon");
    let image = std::env::var("EXECUTOR_TEST_IMAGE")
        .unwrap_or_else(|_| "workcell/executor-test:dev".into());
    let gateway = std::env::var("DOCKER_GATEWAY").unwrap_or_else(|_| "172.17.0.1".into());
    Some((docker, image, gateway))
}
