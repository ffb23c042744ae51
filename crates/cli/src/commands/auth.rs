//! `workcell login` and `workcell logout`.
//!
//! A password sign-in is only used to create a scoped, expiring API token (`POST /tokens`); the
//! sign-in token itself is never stored. Against a single-user server there is nothing to sign
//! in to: only the server is stored.

use std::io::{BufRead, IsTerminal, Write};

use protocol::accounts::{CreateTokenRequest, MAX_TOKEN_NAME_CHARS, Scope};
use protocol::api::{Credentials, MeResponse};

use super::{Context, print_json, print_lines};
use crate::cli::LoginArgs;
use crate::client::Client;
use crate::config::{self, Config};
use crate::error::{Error, Result};

/// What the CLI's token may do: work with tasks and read their sessions and files, not admin.
const SCOPES: [Scope; 3] = [Scope::TasksWrite, Scope::SessionsRead, Scope::FilesRead];
/// How long the CLI's token lives.
const TOKEN_DAYS: u32 = 90;
const SINGLE_USER: &str = "single_user";

pub async fn login(ctx: &Context, args: LoginArgs) -> Result<()> {
    let anonymous = Client::new(&ctx.server, None)?;
    if let Some(token) = &ctx.explicit_token {
        let me = anonymous
            .with_token(Some(token.clone()))
            .me()
            .await
            .map_err(|e| refused(e, "the server refused this token"))?;
        store(ctx, Some(token.clone()))?;
        return report(ctx, &me, None);
    }
    match anonymous.me().await {
        Ok(me) => {
            // Only a single-user server answers without a credential.
            store(ctx, None)?;
            report(ctx, &me, None)
        }
        Err(Error::Api { status: 401, .. }) => password_login(ctx, &anonymous, args).await,
        Err(e) => Err(e),
    }
}

async fn password_login(ctx: &Context, anonymous: &Client, args: LoginArgs) -> Result<()> {
    let email = match args.email {
        Some(e) => e,
        None => prompt_line("Email: ").await?,
    };
    if email.trim().is_empty() {
        return Err(Error::Usage("an e-mail address is needed".into()));
    }
    let password = prompt_password("Password: ").await?;
    let signed_in = anonymous
        .login(&Credentials {
            email: email.trim().to_owned(),
            password,
        })
        .await
        .map_err(|e| refused(e, "wrong email or password"))?;
    let created = anonymous
        .with_token(Some(signed_in.token))
        .create_token(&CreateTokenRequest {
            name: token_name(),
            expires_in_days: Some(TOKEN_DAYS),
            scopes: SCOPES.to_vec(),
        })
        .await?;
    store(ctx, Some(created.token))?;
    let me = MeResponse {
        user: signed_in.user,
        auth_mode: "password".into(),
        scopes: created.info.scopes.clone(),
    };
    report(ctx, &me, Some(&created.info))
}

/// An authentication failure as an [`Error::Auth`]: `what` was refused, and the server's why.
fn refused(e: Error, what: &str) -> Error {
    match e {
        Error::Api {
            status: 401,
            message,
            ..
        } if message == what => Error::Auth(message),
        Error::Api {
            status: 401,
            message,
            ..
        } => Error::Auth(format!("{what}: {message}")),
        other => other,
    }
}

fn store(ctx: &Context, token: Option<String>) -> Result<()> {
    config::save(
        &ctx.config_path,
        &Config {
            server: Some(ctx.server.clone()),
            token,
        },
    )
}

fn report(
    ctx: &Context,
    me: &MeResponse,
    created: Option<&protocol::accounts::TokenView>,
) -> Result<()> {
    if ctx.json {
        return print_json(&serde_json::json!({
            "server": ctx.server,
            "auth_mode": me.auth_mode,
            "user": me.user,
            "scopes": me.scopes,
            "token": created,
            "config": ctx.config_path,
        }));
    }
    if me.auth_mode == SINGLE_USER {
        return print_lines([format!(
            "{} runs in single-user mode: no sign-in needed. Saved it as the default server in {}.",
            ctx.server,
            ctx.config_path.display()
        )]);
    }
    let mut lines = vec![format!("signed in to {} as {}", ctx.server, me.user.email)];
    if let Some(t) = created {
        let expires = t
            .expires_at
            .map(|e| format!("expires {}", e.format("%Y-%m-%d")))
            .unwrap_or_else(|| "never expires".into());
        lines.push(format!(
            "API token \"{}\" ({}…) {expires}; stored in {}",
            t.name,
            t.prefix,
            ctx.config_path.display()
        ));
    } else {
        lines.push(format!("token stored in {}", ctx.config_path.display()));
    }
    print_lines(lines)
}

pub fn logout(ctx: &Context) -> Result<()> {
    let had = ctx.config.token.is_some();
    if had {
        config::save(
            &ctx.config_path,
            &Config {
                server: ctx.config.server.clone(),
                token: None,
            },
        )?;
    }
    if ctx.json {
        return print_json(&serde_json::json!({ "removed": had }));
    }
    print_lines([if had {
        "token removed (it stays valid on the server until it expires or is revoked in the web UI)"
    } else {
        "no token was stored"
    }])
}

/// `workcell CLI on <hostname>`, within the server's length limit.
fn token_name() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .map(|h| h.to_string_lossy().into_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "this machine".into());
    let name = format!("workcell CLI on {host}");
    name.chars().take(MAX_TOKEN_NAME_CHARS).collect()
}

/// Asks for a line on stderr and reads it from stdin.
async fn prompt_line(prompt: &'static str) -> Result<String> {
    blocking(move || {
        if std::io::stdin().is_terminal() {
            eprint!("{prompt}");
            let _ = std::io::stderr().flush();
        }
        read_line()
    })
    .await
}

/// Reads a password: from the terminal without echo, or a line of stdin when it is not one.
async fn prompt_password(prompt: &'static str) -> Result<String> {
    blocking(move || {
        let stdin = std::io::stdin();
        if !stdin.is_terminal() {
            return read_line();
        }
        eprint!("{prompt}");
        let _ = std::io::stderr().flush();
        let line = without_echo(&stdin, read_line);
        eprintln!();
        line
    })
    .await
}

/// Runs `read` with the terminal's echo off, restoring it afterwards.
fn without_echo(stdin: &std::io::Stdin, read: impl FnOnce() -> Result<String>) -> Result<String> {
    use nix::sys::termios::{LocalFlags, SetArg, tcgetattr, tcsetattr};
    let tty = |e: nix::Error| Error::io("terminal", std::io::Error::from(e));
    let saved = tcgetattr(stdin).map_err(tty)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(stdin, SetArg::TCSANOW, &quiet).map_err(tty)?;
    let line = read();
    tcsetattr(stdin, SetArg::TCSANOW, &saved).map_err(tty)?;
    line
}

fn read_line() -> Result<String> {
    let mut line = String::new();
    let n = std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::io("standard input", e))?;
    if n == 0 {
        return Err(Error::Usage(
            "standard input ended before the answer".into(),
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::io("standard input", std::io::Error::other(e)))?
}
