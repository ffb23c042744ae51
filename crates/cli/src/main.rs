//! `workcell`: the command-line client of Workcell.
//!
//! `cli` parses the command line, `commands` carries each subcommand out with `client` (HTTP)
//! and `live` (the WebSocket), `render` turns what comes back into lines, `config` keeps the
//! server and token between runs. Errors are [`error::Error`]; this file only maps them to a
//! message on stderr and an exit code.

#![forbid(unsafe_code)]

mod cli;
mod client;
mod commands;
mod config;
mod error;
mod live;
mod render;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    // Other crates of the workspace also enable rustls' `ring` provider: name the one to use
    // (the one reqwest uses) before any TLS connection. An error means one is set already.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(commands::run(cli));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`workcell logs … | head`): nothing more to say.
        Err(error::Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::BrokenPipe => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            if !e.is_reported() {
                eprintln!("error: {e}");
            }
            if matches!(e, error::Error::Api { status: 401, .. }) {
                eprintln!("hint: sign in with `workcell login`, or pass --token");
            }
            ExitCode::from(e.exit_code())
        }
    }
}
