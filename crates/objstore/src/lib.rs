//! objstore: the one place that talks to S3. The backend and the executor manager use this crate
//! and nothing else for the bucket; neither depends on the AWS SDK.
//!
//! What it owns:
//! - [`S3Settings`]: where the bucket is and how to sign for it, built by each service from its
//!   own `S3_*` variables; its `Debug` shows no credential.
//! - [`Bucket`]: the client built from those settings (one function, [`Bucket::new`]) and every
//!   operation the services need: put/get/head/delete, a JSON read capped in bytes
//!   ([`Bucket::get_json`]), presigned GET/PUT URLs for the public endpoint
//!   ([`Bucket::presign_get`], [`Bucket::presign_put`]), a streamed upload that switches to
//!   multipart at [`PART_SIZE`] ([`Bucket::upload_stream`]), a multipart upload driven part by
//!   part, copies included ([`Multipart`]), and "delete everything under a prefix"
//!   ([`Bucket::delete_prefix`]).
//! - [`keys`]: the key layout, as functions, and [`keys::within`], the one check that a key read
//!   back from the bucket, the database or a peer stays inside the prefix it must.
//! - [`Error`] and [`UploadError`]: what can go wrong, without request details (no signatures,
//!   no credentials).
//!
//! # Key layout
//!
//! Every key is built by a function of [`keys`]; no other code spells one.
//!
//! | key | written by | function |
//! | --- | --- | --- |
//! | `workspaces/{session}/` | (prefix of a session's objects; retention deletes it) | [`keys::workspace_prefix`] |
//! | `workspaces/{session}/latest.json` | manager, every export: `{"run_id", "manifest_key"}` | [`keys::latest_key`] |
//! | `workspaces/{session}/runs/{run}/` | (prefix of one run's export) | [`keys::run_prefix`] |
//! | `workspaces/{session}/runs/{run}/manifest.json` | manager; read by the backend | [`keys::manifest_key`] |
//! | `workspaces/{session}/runs/{run}/archive.zip` | manager | [`keys::archive_key`] |
//! | `workspaces/{session}/runs/{run}/files/{path}` | manager: files added or modified by the run | [`keys::run_file_key`] |
//! | `workspaces/{session}/runs/{run}/agent.zip` | manager: the agent's conversation files (`.claude_data/projects/`), read back only by a manager restoring the workspace, never served | [`keys::agent_archive_key`] |
//! | `workspaces/{session}/runs/{run}/agent.json` | manager: where each of them lies in `agent.zip`, with its SHA-256 | [`keys::agent_manifest_key`] |
//! | `workspaces/{session}/runs/{run}/folder-archives/{digest}.zip` | backend: a zip of one folder of the export (`GET /runs/{id}/archive?path=`), kept for repeat requests | [`keys::folder_archive_key`] |
//! | `users/{user}/attachments/` | (prefix of a user's attachments) | [`keys::attachments_prefix`] |
//! | `users/{user}/attachments/{id}/{name}` | backend, on upload; presigned by the manager | [`keys::attachment_key`] |
//! | `users/{user}/skills/`, `system/skills/` | (prefix of an owner's skills) | [`keys::skills_prefix`] |
//! | `…/skills/{skill}/{version}/{index}` | backend, on upload (the `index`-th file in path order; the path travels beside the key); presigned by the manager | [`keys::skill_object_key`] |
//!
//! Architecture invariant: only this crate depends on `aws-sdk-s3`; object keys are built here
//! from ids, never taken from a request, and a key that comes back from storage is used only
//! after [`keys::within`] accepted it.

#![forbid(unsafe_code)]

mod bucket;
mod error;
pub mod keys;
mod multipart;
mod presign;
mod settings;

pub use bucket::{Bucket, Download, ObjectInfo};
pub use error::{Error, UploadError};
pub use multipart::{MAX_PARTS, Multipart, PART_SIZE};
pub use presign::attachment_disposition;
pub use settings::S3Settings;
