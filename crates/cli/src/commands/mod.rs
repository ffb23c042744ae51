//! The subcommands: what each does with the API, and what it prints.
//!
//! Every command resolves the same [`Context`] first (server, token, output mode). Human output
//! goes to stdout, hints and progress to stderr; with `--json`, stdout carries only JSON.

mod auth;
mod files;
mod follow;
mod run;
mod sessions;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde::Serialize;

use crate::cli::{Cli, Command};
use crate::client::Client;
use crate::config::{self, Config};
use crate::error::{Error, Result};
use crate::render::Style;

/// What every command works with.
pub struct Context {
    /// The normalized server URL.
    pub server: String,
    /// `--token` / `WORKCELL_TOKEN`, as given.
    pub explicit_token: Option<String>,
    /// The token requests carry: the explicit one, else the stored one for this server.
    pub token: Option<String>,
    pub json: bool,
    pub style: Style,
    pub config_path: PathBuf,
    pub config: Config,
}

impl Context {
    fn new(cli: &Cli) -> Result<Context> {
        let config_path = config::default_path()?;
        let config = config::load(&config_path)?;
        let server = cli
            .server
            .clone()
            .filter(|s| !s.trim().is_empty())
            .or_else(|| config.server.clone())
            .unwrap_or_else(|| config::DEFAULT_SERVER.to_owned());
        let server = config::normalize_server(&server)?;
        let explicit_token = cli.token.clone().filter(|t| !t.trim().is_empty());
        let token = explicit_token
            .clone()
            .or_else(|| config.token_for(&server).map(str::to_owned));
        let color = !cli.json
            && std::io::stdout().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Ok(Context {
            server,
            explicit_token,
            token,
            json: cli.json,
            style: Style { color },
            config_path,
            config,
        })
    }

    pub fn client(&self) -> Result<Client> {
        Client::new(&self.server, self.token.clone())
    }

    /// Whether to draw a spinner (stderr is a terminal and the output is for people).
    pub fn spinner(&self) -> bool {
        !self.json && std::io::stderr().is_terminal()
    }
}

/// Runs the command the command line names.
pub async fn run(cli: Cli) -> Result<()> {
    let ctx = Context::new(&cli)?;
    match cli.command {
        Command::Login(args) => auth::login(&ctx, args).await,
        Command::Logout => auth::logout(&ctx),
        Command::Run(args) => run::run(&ctx, args).await,
        Command::Sessions(args) => sessions::list(&ctx, args).await,
        Command::Logs(args) => run::logs(&ctx, args).await,
        Command::Files(args) => files::files(&ctx, args).await,
        Command::Cancel(args) => sessions::cancel(&ctx, args.session).await,
    }
}

/// Prints lines on stdout.
pub fn print_lines<I, S>(lines: I) -> Result<()>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut out = std::io::stdout().lock();
    for line in lines {
        writeln!(out, "{}", line.as_ref()).map_err(|e| Error::io("standard output", e))?;
    }
    out.flush().map_err(|e| Error::io("standard output", e))
}

/// Prints one JSON document on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Protocol {
        what: "output".into(),
        detail: e.to_string(),
    })?;
    print_lines([text])
}

/// Prints one JSON value as a single line (JSON lines of a stream).
pub fn print_json_line<T: Serialize>(value: &T) -> Result<()> {
    let text = serde_json::to_string(value).map_err(|e| Error::Protocol {
        what: "output".into(),
        detail: e.to_string(),
    })?;
    print_lines([text])
}
