//! `workcell files`: the exported files of a session's latest run — listed, one downloaded, or
//! all as the run's zip archive. Downloads follow the presigned URLs the API hands out.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use protocol::api::RunView;
use protocol::internal::ExportStatus;

use super::{Context, print_json, print_lines};
use crate::cli::FilesArgs;
use crate::client::Client;
use crate::error::{Error, Result};
use crate::render;

/// How long `files` waits for the export of a run that has just ended.
const EXPORT_WAIT: Duration = Duration::from_secs(60);

pub async fn files(ctx: &Context, args: FilesArgs) -> Result<()> {
    if args.output.is_some() && args.get.is_none() && !args.zip {
        return Err(Error::Usage("-o/--output goes with --get or --zip".into()));
    }
    let client = ctx.client()?;
    let detail = client.session(args.session).await?;
    let run = detail
        .runs
        .last()
        .ok_or_else(|| Error::Unavailable(format!("session {} has no runs yet", args.session)))?;
    let run = &wait_for_export(ctx, &client, run).await?;
    if args.zip {
        export_ready(run)?;
        let link = client.archive(run.id).await?;
        return download(ctx, &client, &link.url, args.output.as_deref(), true).await;
    }
    let files = client.run_files(run.id).await?;
    match files.export_status {
        Some(ExportStatus::Ready) => {}
        Some(ExportStatus::Failed) => {
            return Err(Error::Unavailable(format!(
                "the export of run {} failed: its files cannot be listed",
                run.id
            )));
        }
        None => export_ready(run)?,
    }
    if let Some(path) = args.get {
        let wanted = path.trim_start_matches("./");
        let file = files
            .files
            .iter()
            .find(|f| f.path == wanted)
            .ok_or_else(|| Error::Unavailable(format!("run {} has no file {wanted}", run.id)))?;
        let url = file
            .url
            .as_deref()
            .ok_or_else(|| Error::Unavailable(format!("{wanted} was deleted by run {}", run.id)))?;
        return download(ctx, &client, url, args.output.as_deref(), false).await;
    }
    if ctx.json {
        return print_json(&files);
    }
    if files.files.is_empty() {
        return print_lines([format!("run {} left no files", run.id)]);
    }
    print_lines(render::files_table(&files))
}

/// The run once its export is reported: a run that just ended is exported right after, so a
/// command given at its end waits for that (at most [`EXPORT_WAIT`]) rather than failing.
async fn wait_for_export(ctx: &Context, client: &Client, run: &RunView) -> Result<RunView> {
    let mut run = run.clone();
    if run.export.is_some() || !run.status.is_terminal() {
        return Ok(run);
    }
    if !ctx.json {
        eprintln!("waiting for the export of run {}…", run.id);
    }
    let deadline = tokio::time::Instant::now() + EXPORT_WAIT;
    while run.export.is_none() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        run = client.run(run.id).await?;
    }
    Ok(run)
}

/// An error when the run's export is not there yet (the run is still going, or its worker has
/// not reported).
fn export_ready(run: &RunView) -> Result<()> {
    match &run.export {
        Some(e) if e.status == ExportStatus::Ready => Ok(()),
        Some(e) => Err(Error::Unavailable(format!(
            "the export of run {} failed{}",
            run.id,
            e.error
                .as_deref()
                .map(|m| format!(": {m}"))
                .unwrap_or_default()
        ))),
        None if !run.status.is_terminal() => Err(Error::Unavailable(format!(
            "the latest run ({}) is {}: its files are exported when it ends",
            run.id, run.status
        ))),
        None => Err(Error::Unavailable(format!(
            "the files of run {} are not exported yet; try again in a moment",
            run.id
        ))),
    }
}

/// Writes what `url` holds to `output`, or to stdout.
async fn download(
    ctx: &Context,
    client: &Client,
    url: &str,
    output: Option<&Path>,
    binary: bool,
) -> Result<()> {
    let Some(path) = output else {
        if binary && std::io::stdout().is_terminal() {
            return Err(Error::Usage(
                "the archive is binary: write it to a file with -o FILE, or redirect stdout".into(),
            ));
        }
        let mut out = tokio::io::stdout();
        client.download(url, &mut out).await?;
        return Ok(());
    };
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| Error::io(path.display(), e))?;
    let written = match client.download(url, &mut file).await {
        Ok(n) => n,
        Err(e) => {
            drop(file);
            let _ = tokio::fs::remove_file(path).await;
            return Err(e);
        }
    };
    file.sync_all()
        .await
        .map_err(|e| Error::io(path.display(), e))?;
    if ctx.json {
        let path: PathBuf = path.to_owned();
        return print_json(&serde_json::json!({ "output": path, "bytes": written }));
    }
    eprintln!("wrote {} ({})", path.display(), render::size(written));
    Ok(())
}
