//! The backend: users and auth, sessions, runs, the leased run queue, and event storage on
//! PostgreSQL, served over HTTP (axum).
//!
//! Start at [`server::run`] for the process, [`api::router`] for the routes, and [`queue`] for the
//! queue's policy.
#![forbid(unsafe_code)]

pub mod api;
pub mod attachments;
pub mod auth;
pub mod capabilities;
pub mod config;
pub mod db;
pub mod deleted_sessions;
pub mod diff;
pub mod error;
pub mod events;
pub mod exports;
pub mod extract;
pub mod file_content;
pub mod files;
pub mod folder_archive;
pub mod git_source;
pub mod input_requests;
pub mod live;
pub mod metrics;
pub mod models;
pub mod nudge;
pub mod projects;
pub mod protection;
pub mod queue;
pub mod retention;
pub mod runs;
pub mod schedules;
pub mod search;
pub mod secrets;
pub mod server;
pub mod sessions;
pub mod state;
pub mod tasks;
pub mod titles;
pub mod usage;
