//! The backend binary: `backend` (or `backend serve`) serves; `backend migrate` applies the
//! migrations; `backend secrets …` and `backend user …` are the operator's commands, with the
//! same settings as the server and against the same `DATABASE_URL`.

use std::io::{IsTerminal, Read};

use anyhow::Context;
use backend::auth::accounts::{self, Admission};
use backend::config::Settings;
use backend::secrets::store::{self, NewSecret};
use clap::{Parser, Subcommand};
use protocol::accounts::Role;
use protocol::secrets::{MAX_VALUE_BYTES, SecretValue};
use tokio_util::sync::CancellationToken;

/// Workcell's API server and its operator commands.
#[derive(Parser)]
#[command(name = "backend", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Apply the database migrations, then exit.
    Migrate,
    /// Secrets' keys and the system's secrets.
    #[command(subcommand)]
    Secrets(SecretsCommand),
    /// Accounts.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Subcommand)]
enum SecretsCommand {
    /// Re-encrypt every secret with the first `ENCRYPTION_KEY`.
    Rotate,
    /// Create or replace a system secret; the value comes from stdin, never from the arguments.
    SetSystem {
        name: String,
        #[arg(long)]
        description: Option<String>,
    },
    DeleteSystem {
        name: String,
    },
    ListSystem,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account whatever `REGISTRATION` says. The password is read from stdin when it is
    /// piped; from a terminal, the account gets a one-time link to set it instead.
    Create {
        #[arg(long)]
        email: String,
        /// Make the account an admin.
        #[arg(long)]
        admin: bool,
    },
    /// Print a one-time link (valid 24 hours) that sets the account's password.
    ResetPassword {
        #[arg(long)]
        email: String,
    },
    /// List the accounts: e-mail, role, state, runs, cost.
    List,
    /// Disable an account: its tokens stop working and its runs are canceled.
    Disable {
        #[arg(long)]
        email: String,
    },
    Enable {
        #[arg(long)]
        email: String,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return std::process::ExitCode::SUCCESS;
            }
            // One line, like every other start-up error.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .trim_start_matches("error: ");
            eprintln!("backend: {first} (see `backend --help`)");
            return std::process::ExitCode::from(2);
        }
    };
    let command = cli.command.unwrap_or(Command::Serve);
    // An operator command's stdout is its answer alone: its logs go to stderr.
    let command_settings = || {
        Settings::from_vars(std::env::vars()).map(|mut s| {
            s.log.to_stderr = true;
            s
        })
    };
    match command {
        Command::Serve => {
            telemetry::service_main("backend", Settings::from_env(), |s| &s.log, run).await
        }
        Command::Migrate => {
            telemetry::service_main("backend", command_settings(), |s| &s.log, migrate).await
        }
        Command::Secrets(c) => {
            telemetry::service_main(
                "backend",
                command_settings(),
                |s| &s.log,
                |s| secrets_command(s, c),
            )
            .await
        }
        Command::User(c) => {
            telemetry::service_main(
                "backend",
                command_settings(),
                |s| &s.log,
                |s| user_command(s, c),
            )
            .await
        }
    }
}

/// `backend migrate`: applies the embedded migrations whatever `RUN_MIGRATIONS` says.
async fn migrate(mut settings: Settings) -> anyhow::Result<()> {
    settings.run_migrations = true;
    let pool = connect(&settings, 2).await?;
    let applied = backend::db::MIGRATOR.iter().count();
    println!("database schema is current ({applied} migrations)");
    pool.close().await;
    Ok(())
}

/// Runs one `backend user …` command; its answer goes to stdout.
async fn user_command(settings: Settings, command: UserCommand) -> anyhow::Result<()> {
    let pool = connect(&settings, 2).await?;
    let find = |email: String| {
        let pool = pool.clone();
        async move {
            accounts::find_by_email(&pool, &email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?
                .ok_or_else(|| anyhow::anyhow!("no account has the e-mail address {email}"))
        }
    };
    match command {
        UserCommand::Create { email, admin } => {
            let stdin = std::io::stdin();
            let password = if stdin.is_terminal() {
                None
            } else {
                let mut text = String::new();
                stdin
                    .lock()
                    .take(4096)
                    .read_to_string(&mut text)
                    .context("cannot read the password from stdin")?;
                let line = text.lines().next().unwrap_or_default().to_owned();
                (!line.is_empty()).then_some(line)
            };
            let hash = match &password {
                Some(p) => {
                    backend::auth::password::check_strength(p, &email)
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    Some(
                        backend::auth::password::hash(p.clone())
                            .await
                            .map_err(|e| anyhow::anyhow!("{e}"))?,
                    )
                }
                None => None,
            };
            let role = if admin { Role::Admin } else { Role::Member };
            let user = accounts::create(&pool, &email, hash, Admission::Operator { role })
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("created {} ({})", user.email, user.role);
            if password.is_none() {
                let link = accounts::create_reset(&pool, &settings.public_url, user.id)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!("set its password within 24 hours at: {}", link.url);
            }
        }
        UserCommand::ResetPassword { email } => {
            let user = find(email).await?;
            let link = accounts::create_reset(&pool, &settings.public_url, user.id)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("{}", link.url);
        }
        UserCommand::List => {
            let users = accounts::list_with_usage(&pool, None)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            for u in users {
                println!(
                    "{}\t{}\t{}\t{} runs\t${:.2}",
                    u.email,
                    u.role.as_str(),
                    if u.disabled { "disabled" } else { "enabled" },
                    u.usage.runs,
                    u.usage.cost_usd
                );
            }
        }
        UserCommand::Disable { email } => {
            let user = find(email).await?;
            // The nudge is best effort from a command that exits at once: a running run sees the
            // cancel on its next heartbeat anyway.
            let nudger = backend::nudge::Nudger::from_settings(&settings);
            accounts::set_disabled(&pool, &nudger, user.id, true)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("disabled {}", user.email);
        }
        UserCommand::Enable { email } => {
            let user = find(email).await?;
            let nudger = backend::nudge::Nudger::from_settings(&settings);
            accounts::set_disabled(&pool, &nudger, user.id, false)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("enabled {}", user.email);
        }
    }
    pool.close().await;
    Ok(())
}

/// Runs one `backend secrets …` command; its result goes to stdout, one line.
async fn secrets_command(settings: Settings, command: SecretsCommand) -> anyhow::Result<()> {
    let pool = connect(&settings, settings.database_max_connections.min(2)).await?;
    let keyring = backend::secrets::Keyring::new(&settings.encryption_keys());
    // A wrong key stops every command before it writes anything.
    backend::secrets::check_keys(&pool, &keyring)
        .await
        .map_err(anyhow::Error::msg)?;
    let mut conn = pool.acquire().await?;
    match command {
        SecretsCommand::Rotate => {
            let moved = store::rotate(&pool, &keyring).await?;
            println!(
                "re-encrypted {moved} secret(s) with key {}; every secret now opens with the first ENCRYPTION_KEY alone",
                keyring.current_key_id()
            );
        }
        SecretsCommand::SetSystem { name, description } => {
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
        SecretsCommand::DeleteSystem { name } => {
            store::delete(&pool, None, &name)
                .await
                .map_err(|e| anyhow::anyhow!("system secret {name}: {e}"))?;
            println!("system secret {name} deleted");
        }
        SecretsCommand::ListSystem => {
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
