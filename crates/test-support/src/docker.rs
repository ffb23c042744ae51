//! The Docker daemon the docker-runtime tests use: `DOCKER_HOST` when set; otherwise such a test
//! skips (with a message), or fails when `WORKCELL_REQUIRE_DOCKER=1` (CI and `scripts/test.sh`).

/// Whether a daemon is configured (`DOCKER_HOST` set and not empty).
pub fn configured() -> bool {
    std::env::var("DOCKER_HOST").is_ok_and(|h| !h.is_empty())
}

/// The executor image under test: `EXECUTOR_TEST_IMAGE`, default `workcell/executor-test:dev`
/// (built by `crates/executor-manager/tests/docker-env.sh`).
pub fn executor_image() -> String {
    std::env::var("EXECUTOR_TEST_IMAGE").unwrap_or_else(|_| "workcell/executor-test:dev".into())
}

/// The host as containers see it: `DOCKER_GATEWAY`, default `172.17.0.1`.
pub fn gateway() -> String {
    std::env::var("DOCKER_GATEWAY").unwrap_or_else(|_| "172.17.0.1".into())
}

/// `(daemon, image, gateway)`, or `None` (skip, with a message) when `DOCKER_HOST` is unset and
/// `WORKCELL_REQUIRE_DOCKER` is not `1` (then it panics instead).
pub fn docker_env() -> Option<(bollard::Docker, String, String)> {
    if !configured() {
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
    Some((docker, executor_image(), gateway()))
}
