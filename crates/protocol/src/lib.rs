//! Wire types shared by the services of the platform.
//!
//! Every type that crosses a process boundary (browser ↔ backend, executor manager ↔ backend,
//! executor ↔ executor manager) is defined exactly once, here. The backend, the executor manager
//! and the executor depend on this crate; the web UI's TypeScript types are generated from it.
//!
//! The crate does no I/O and knows nothing of HTTP frameworks or databases.
#![forbid(unsafe_code)]

pub mod accounts;
pub mod api;
pub mod capabilities;
pub mod cron;
pub mod error;
pub mod event;
pub mod executor;
pub mod files;
pub mod input;
pub mod internal;
pub mod live;
pub mod models;
pub mod projects;
pub mod schedule;
pub mod search;
pub mod secrets;
pub mod status;
pub mod usage;

pub use error::{ErrorBody, ErrorCode, ErrorDetail};
pub use event::{Event, EventBody, RunEvent};
pub use status::{PermissionMode, RunOutcome, RunStatus, SessionStatus};
