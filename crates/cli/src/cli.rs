//! The command line: global options and one subcommand per thing a user does.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

/// Give the Workcell agent tasks, follow them, and fetch the files they produce.
#[derive(Debug, Parser)]
#[command(name = "workcell", version, propagate_version = true)]
pub struct Cli {
    /// The server's URL [default: the config file's, else http://localhost:8000]
    #[arg(long, global = true, env = "WORKCELL_SERVER", value_name = "URL")]
    pub server: Option<String>,

    /// An API token (wc_…) to use instead of the stored one; with `login`, the token to store
    #[arg(
        long,
        global = true,
        env = "WORKCELL_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Machine-readable output: one JSON document, or JSON lines of events when streaming
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in and store an API token (or, with --token, check and store that token)
    Login(LoginArgs),
    /// Forget the stored token
    Logout,
    /// Give the agent a task (a new session, or a follow-up with --session)
    Run(RunArgs),
    /// List your sessions, newest first
    Sessions(SessionsArgs),
    /// Print a session's events
    Logs(LogsArgs),
    /// List, download or zip the files of a session's latest run
    Files(FilesArgs),
    /// Cancel a session's queued or running run
    Cancel(SessionArg),
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Your e-mail address (asked when not given)
    #[arg(long)]
    pub email: Option<String>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// What the agent should do
    pub prompt: String,

    /// The project of the new session, by name or id
    #[arg(long, value_name = "NAME_OR_ID", conflicts_with = "session")]
    pub project: Option<String>,

    /// The model to use (the server's default otherwise)
    #[arg(long)]
    pub model: Option<String>,

    /// A file for the agent, staged into the run's inputs/ (repeatable)
    #[arg(long, value_name = "FILE")]
    pub attach: Vec<PathBuf>,

    /// Stream the run's events until it ends
    #[arg(long, short)]
    pub follow: bool,

    /// Continue this session (a follow-up task) instead of starting a new one
    #[arg(long, value_name = "ID")]
    pub session: Option<Uuid>,
}

#[derive(Debug, Args)]
pub struct SessionsArgs {
    /// How many sessions to list
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The session's id
    pub session: Uuid,

    /// Then stream new events until the session's runs end
    #[arg(long, short)]
    pub follow: bool,
}

#[derive(Debug, Args)]
pub struct FilesArgs {
    /// The session's id
    pub session: Uuid,

    /// Download this file (a path as listed)
    #[arg(long, value_name = "PATH", conflicts_with = "zip")]
    pub get: Option<String>,

    /// Download every file as one zip archive
    #[arg(long)]
    pub zip: bool,

    /// Where to write the download (default: standard output)
    #[arg(long, short, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SessionArg {
    /// The session's id
    pub session: Uuid,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("workcell").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn run_with_everything() {
        let id = "0198c1f2-0000-7000-8000-000000000001";
        let cli = parse(&[
            "--server",
            "http://h:1",
            "run",
            "do it",
            "--model",
            "m",
            "--attach",
            "a.txt",
            "--attach",
            "b.txt",
            "-f",
            "--session",
            id,
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.server.as_deref(), Some("http://h:1"));
        assert!(cli.json);
        let Command::Run(run) = cli.command else {
            panic!("not run")
        };
        assert_eq!(run.prompt, "do it");
        assert_eq!(run.model.as_deref(), Some("m"));
        assert_eq!(
            run.attach,
            vec![PathBuf::from("a.txt"), PathBuf::from("b.txt")]
        );
        assert!(run.follow);
        assert_eq!(run.session, Some(id.parse().unwrap()));
    }

    #[test]
    fn global_options_go_anywhere_and_login_takes_a_token() {
        let cli = parse(&["login", "--server", "http://h:1", "--token", "wc_x"]).unwrap();
        assert_eq!(cli.server.as_deref(), Some("http://h:1"));
        assert_eq!(cli.token.as_deref(), Some("wc_x"));
        assert!(matches!(
            cli.command,
            Command::Login(LoginArgs { email: None })
        ));
    }

    #[test]
    fn usage_errors() {
        // A follow-up keeps its session's project.
        let id = "0198c1f2-0000-7000-8000-000000000001";
        assert!(parse(&["run", "x", "--project", "p", "--session", id]).is_err());
        assert!(parse(&["run"]).is_err());
        assert!(parse(&["logs", "not-a-uuid"]).is_err());
        assert!(parse(&["files", id, "--get", "a", "--zip"]).is_err());
        assert!(parse(&["sessions", "--limit", "0"]).is_err());
        let err = parse(&["frobnicate"]).unwrap_err();
        assert_eq!(err.exit_code(), 2);
    }

    #[test]
    fn defaults() {
        let cli = parse(&["sessions"]).unwrap();
        assert!(matches!(
            cli.command,
            Command::Sessions(SessionsArgs { limit: 20 })
        ));
        let id = "0198c1f2-0000-7000-8000-000000000001";
        let cli = parse(&["files", id, "--zip", "-o", "f.zip"]).unwrap();
        let Command::Files(f) = cli.command else {
            panic!("not files")
        };
        assert!(f.zip && f.get.is_none());
        assert_eq!(f.output, Some(PathBuf::from("f.zip")));
    }
}
