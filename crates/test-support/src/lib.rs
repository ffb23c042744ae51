//! The one home of the test harness: what the tests and benchmarks of every crate need to stand up
//! real parts around the code under test.
//!
//! - [`tools`]: where the external tools are (s3s-fs, the Claude Code CLI, this workspace's own
//!   binaries), found the way `scripts/lib.sh` installs them;
//! - [`postgres`]: a fresh database on the server `DATABASE_URL` names;
//! - [`s3`]: a private s3s-fs server (fresh credentials, one bucket);
//! - [`docker`]: the Docker daemon the docker-runtime tests use, or a skip;
//! - [`net`]: free loopback ports, and where servers that executors call listen;
//! - [`process`]: a service binary as a child process with its log in a file;
//! - [`bench`]: the benchmarks' smoke switch;
//! - [`mcp`]: a tiny stdio MCP server (a Python fixture) for the agent-capabilities tests;
//! - [`git_http`]: a smart-HTTP git server requiring basic auth (a Python fixture running
//!   `git http-backend`) for the private-repository tests;
//! - [`zip`]: a zip's names as an independent reader sees them, and a skill folder's zip.
//!
//! It depends on no crate of this workspace: the project-specific layers (an in-process backend,
//! the manager stack) stay in their crates' `tests/common/` and are built from these pieces.
//! Everything here panics on failure: it runs only inside tests and benchmarks, where a panic with
//! a clear message is the failure report.

pub mod bench;
pub mod docker;
pub mod git_http;
pub mod mcp;
pub mod net;
pub mod postgres;
pub mod process;
pub mod s3;
pub mod tools;
pub mod zip;
