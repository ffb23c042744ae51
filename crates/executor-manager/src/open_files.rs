//! The process's limit on open files: a manager holds a few descriptors per run, more than the
//! soft limit containers and services get by default allows at a few hundred runs.

/// The soft limit on open files the manager asks for at start-up (at most its hard limit).
pub const OPEN_FILES_TARGET: u64 = 65_536;

/// Open files a run holds in the manager, about: the executor's callback and model connections,
/// the model request's upstream, the executor API connection, the Docker wait stream (5 measured
/// by `benches/scale.rs`), with room for bursts.
pub const OPEN_FILES_PER_RUN: u64 = 8;

/// Raises this process's soft `RLIMIT_NOFILE` towards its hard limit, up to
/// [`OPEN_FILES_TARGET`]; never lowers it. Containers and systemd services get a soft limit of
/// 1024 by default (hard 524288), which a manager holding ~200 runs exhausts: accepts fail, model
/// requests cannot reach the provider, workspace markers cannot be written, executors are not
/// removed. Returns the (old, new) soft limit when it changed it.
pub fn raise_open_files_limit() -> std::io::Result<Option<(u64, u64)>> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    // `None`: unlimited.
    let Some(current) = limit.current else {
        return Ok(None);
    };
    let target = limit
        .maximum
        .map_or(OPEN_FILES_TARGET, |max| max.min(OPEN_FILES_TARGET));
    if current >= target {
        return Ok(None);
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(target),
            maximum: limit.maximum,
        },
    )?;
    Ok(Some((current, target)))
}

/// This process's soft limit on open files (`None`: unlimited).
pub fn open_files_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_is_raised_towards_the_hard_one_and_never_lowered() {
        use rustix::process::{Resource, getrlimit};
        let before = getrlimit(Resource::Nofile);
        raise_open_files_limit().unwrap();
        let after = getrlimit(Resource::Nofile);
        assert_eq!(after.maximum, before.maximum);
        let want = before
            .maximum
            .map_or(OPEN_FILES_TARGET, |m| m.min(OPEN_FILES_TARGET));
        match (before.current, after.current) {
            (Some(b), Some(a)) => assert_eq!(a, b.max(want)),
            (b, a) => assert_eq!(a, b),
        }
        // A second call finds nothing to do.
        assert_eq!(raise_open_files_limit().unwrap(), None);
        assert_eq!(open_files_limit(), after.current);
    }
}
