//! The backend binary: `backend` serves; `backend secrets …` are the operator's commands for
//! the secrets' keys and the system's secrets (same settings as the server).

use std::io::{IsTerminal, Read};

use anyhow::Context;
use backend::config::Settings;
use backend::secrets::store::{self, NewSecret};
use protocol::secrets::{MAX_VALUE_BYTES, SecretValue};
use tokio_util::sync::CancellationToken;

const USAGE: &str = "usage: backend [secrets rotate | secrets set-system NAME [--description TEXT] \
                     | secrets delete-system NAME | secrets list-system]";

/// What the command line asks for.
enum Command {
    Serve,
    /// Re-encrypt every secret with the first `ENCRYPTION_KEY`.
    Rotate,
    /// Create or replace a system secret; the value comes from stdin, never from the arguments.
    SetSystem {
        name: String,
        description: Option<String>,
    },
    DeleteSystem(String),
    ListSystem,
}

impl Command {
    fn parse(args: &[String]) -> Result<Self, String> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Ok(match args.as_slice() {
            [] => Command::Serve,
            ["secrets", "rotate"] => Command::Rotate,
            ["secrets", "list-system"] => Command::ListSystem,
            ["secrets", "delete-system", name] => Command::DeleteSystem((*name).to_owned()),
            ["secrets", "set-system", name, rest @ ..] => {
                let description = match rest {
                    [] => None,
                    ["--description", text] => Some((*text).to_owned()),
                    [flag] if flag.starts_with("--description=") => {
                        Some(flag["--description=".len()..].to_owned())
                    }
                    _ => return Err(USAGE.to_owned()),
                };
                Command::SetSystem {
                    name: (*name).to_owned(),
                    description,
                }
            }
            _ => return Err(USAGE.to_owned()),
        })
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match Command::parse(&args) {
        Ok(c) => c,
        Err(usage) => {
            eprintln!("backend: {usage}");
            return std::process::ExitCode::from(2);
        }
    };
    match command {
        Command::Serve => {
            telemetry::service_main("backend", Settings::from_env(), |s| &s.log, run).await
        }
        other => {
            telemetry::service_main(
                "backend",
                Settings::from_env(),
                |s| &s.log,
                |s| secrets_command(s, other),
            )
            .await
        }
    }
}

/// Runs one `backend secrets …` command; its result goes to stdout, one line.
async fn secrets_command(settings: Settings, command: Command) -> anyhow::Result<()> {
    let pool = connect(&settings, settings.database_max_connections.min(2)).await?;
    let keyring = backend::secrets::Keyring::new(&settings.encryption_keys());
    // A wrong key stops every command before it writes anything.
    backend::secrets::check_keys(&pool, &keyring)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut conn = pool.acquire().await?;
    match command {
        Command::Serve => unreachable!("served by `run`"),
        Command::Rotate => {
            let moved = store::rotate(&pool, &keyring).await?;
            println!(
                "re-encrypted {moved} secret(s) with key {}; every secret now opens with the first ENCRYPTION_KEY alone",
                keyring.current_key_id()
            );
        }
        Command::SetSystem { name, description } => {
            store::check_name(&name).map_err(|e| anyhow::anyhow!("{e}"))?;
            let value = read_value()?;
            let (view, created) = store::put(
                &pool,
                &keyring,
                None,
                &NewSecret {
                    name: &name,
                    value: &value,
                    description: description.as_deref(),
                },
            )
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let done = if created { "created" } else { "replaced" };
            println!("system secret {} {done}", view.name);
        }
        Command::DeleteSystem(name) => {
            store::delete(&pool, None, &name)
                .await
                .map_err(|e| anyhow::anyhow!("system secret {name}: {e}"))?;
            println!("system secret {name} deleted");
        }
        Command::ListSystem => {
            for s in store::list_system(&mut conn)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
            {
                println!(
                    "{}\t{}\t{}\t{}",
                    s.name,
                    s.last4.map_or_else(|| "-".to_owned(), |l| format!("…{l}")),
                    s.updated_at.to_rfc3339(),
                    s.description
                );
            }
        }
    }
    drop(conn);
    pool.close().await;
    Ok(())
}

/// A secret's value from stdin: everything up to EOF, without one final line break (what
/// `echo` or a here-string adds).
fn read_value() -> anyhow::Result<SecretValue> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprintln!("type the value, then Enter and Ctrl-D (or pipe it in):");
    }
    let mut bytes = Vec::new();
    stdin
        .lock()
        .take(MAX_VALUE_BYTES as u64 + 3)
        .read_to_end(&mut bytes)
        .context("cannot read the value from stdin")?;
    let mut value =
        String::from_utf8(bytes).map_err(|_| anyhow::anyhow!("the value on stdin is not UTF-8"))?;
    if value.ends_with('\n') {
        value.pop();
        if value.ends_with('\r') {
            value.pop();
        }
    }
    let value = SecretValue::new(value);
    store::check_value(&value).map_err(|e| anyhow::anyhow!("{e} (read from stdin)"))?;
    Ok(value)
}

/// The database pool, migrated unless `RUN_MIGRATIONS=false`.
async fn connect(settings: &Settings, max_connections: u32) -> anyhow::Result<sqlx::PgPool> {
    let pool = backend::db::connect(
        settings.database_url.expose(),
        max_connections,
        settings.log.log_sql,
    )
    .await
    .context("cannot connect to the database (DATABASE_URL)")?;
    if settings.run_migrations {
        backend::db::MIGRATOR
            .run(&pool)
            .await
            .context("database migrations failed")?;
    }
    Ok(pool)
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let pool = connect(&settings, settings.database_max_connections).await?;
    // Not in `connect`: a `backend secrets` command's stdout is its answer alone.
    if settings.run_migrations {
        tracing::info!("migrations applied");
    }
    // A socket address, not "host:port" text: an IPv6 HOST needs its brackets.
    let addr = std::net::SocketAddr::new(settings.listen_ip(), settings.port);
    let listener = tokio::net::TcpListener::bind(&addr)
        .await
        .with_context(|| format!("cannot listen on {addr} (HOST, PORT)"))?;
    tracing::info!(%addr, auth_mode = settings.auth_mode.as_str(), "backend listening");
    if settings.auth_mode == backend::config::AuthMode::SingleUser
        && !addr.ip().to_canonical().is_loopback()
    {
        tracing::warn!(%addr, "single-user mode on a network address (ALLOW_SINGLE_USER_ON_NETWORK): whoever reaches this port acts as the single user");
    }
    let shutdown = CancellationToken::new();
    backend::server::cancel_on_signal(shutdown.clone());
    let state = backend::server::start_state(settings, pool.clone(), shutdown.clone()).await?;
    backend::server::serve(listener, state).await?;
    pool.close().await;
    tracing::info!("backend stopped");
    Ok(())
}
