//! No code: this crate holds the configuration agreement test (`tests/agreement.rs`), which needs
//! all three services' settings and so lives outside each of them.
#![forbid(unsafe_code)]
