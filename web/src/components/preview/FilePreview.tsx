"use client";
// A file of a run's export. Images are shown from their presigned URL (the store serves every
// file as an attachment, Content-Disposition signed into the URL, so nothing an agent wrote ever
// renders in the store's origin). Everything else is read by this page from the backend's own
// origin, `GET /api/v1/runs/{id}/content?path=` (always an octet-stream attachment, sandboxed and
// `nosniff`, so it never renders as a page of this origin; no store CORS needed):
// - PDF fetched and framed as a blob of type application/pdf (a frame of the URL would download);
// - HTML as text in a `sandbox=""` srcdoc frame (no scripts) behind its own CSP (no remote loads);
// - Markdown rendered (its relative images resolved to the run's files), CSV/TSV as a table;
// - text and code highlighted, read 256 KiB at a time (`Range`) with "Load more".
import { useCallback, useMemo, useState } from "react";
import { useTranslations } from "next-intl";
import type { RunFile } from "@/generated/protocol";
import { apiUrl } from "@/lib/api";
import { delimiterFor, parseCsv } from "@/lib/csv";
import { previewKind, type PreviewKind } from "@/lib/fileTree";
import { languageFor } from "@/lib/highlight";
import { sandboxedSrcDoc } from "@/lib/htmlPreview";
import { resolveRelative } from "@/lib/markdownImages";
import { PAGE_SIZE } from "@/lib/paging";
import { Code } from "../Code";
import { Markdown } from "../Markdown";
import { useFileSize } from "./useFileSize";
import { useBlob, usePagedText, type PagedText, type ReadFailure } from "./usePagedText";

/** Markdown and HTML are rendered whole up to this size (read with one GET); larger, as text. */
const RENDER_LIMIT = 2 * 1024 * 1024;
/** PDFs are read whole into memory: up to this size. */
const PDF_LIMIT = 32 * 1024 * 1024;
/** Table rows drawn at most (the rest: read as text). */
const MAX_TABLE_ROWS = 5000;

/** Where this page reads a file's bytes: the backend's content route (same origin). */
export function contentUrl(runId: string, path: string): string {
  return apiUrl(`/runs/${encodeURIComponent(runId)}/content?path=${encodeURIComponent(path)}`);
}

export function FilePreview({ runId, file, files }: { runId: string; file: RunFile; files: RunFile[] }) {
  const t = useTranslations("files.preview");
  const detected = previewKind(file.path, file.content_type);
  const [forceText, setForceText] = useState(false);
  const kind: PreviewKind = forceText ? "text" : detected;
  if (!file.url) return <p className="muted">{t("deleted")}</p>;
  const url = file.url;
  const read = contentUrl(runId, file.path);
  switch (kind) {
    case "image":
      // eslint-disable-next-line @next/next/no-img-element
      return <img className="preview-image" src={url} alt={file.path} referrerPolicy="no-referrer" />;
    case "pdf":
      return file.size <= PDF_LIMIT ? <PdfPreview url={read} path={file.path} /> : <p className="muted">{t("tooLargeToShow")}</p>;
    case "markdown":
    case "html":
      return file.size <= RENDER_LIMIT ? <Rendered key={url} kind={kind} file={file} url={read} files={files} /> : <TextPreview key={url} file={file} url={read} />;
    case "csv":
      return <Rendered key={url} kind="csv" file={file} url={read} files={files} />;
    case "text":
      return <TextPreview key={url} file={file} url={read} />;
    default:
      return (
        <p className="muted">
          {t("noPreview")}{" "}
          <button type="button" className="link-button" onClick={() => setForceText(true)}>
            {t("showAsText")}
          </button>
        </p>
      );
  }
}

/** Markdown, HTML or CSV: the rendered view, or its source. */
function Rendered({ kind, file, url, files }: { kind: "markdown" | "html" | "csv"; file: RunFile; url: string; files: RunFile[] }) {
  const t = useTranslations("files.preview");
  const [source, setSource] = useState(false);
  // Markdown and HTML need the whole text; a table grows page by page.
  const paged = usePagedText(url, file.size, kind === "csv" ? PAGE_SIZE : RENDER_LIMIT);
  const byPath = useMemo(() => new Map(files.filter((f) => f.url).map((f) => [f.path, f.url as string])), [files]);
  const resolveImage = useCallback(
    (p: string) => {
      const full = resolveRelative(file.path, p);
      return full ? (byPath.get(full) ?? null) : null;
    },
    [byPath, file.path],
  );
  const status = <ReadStatus paged={paged} />;
  let body: React.ReactNode;
  if (paged.failure || paged.binary || (paged.loading && paged.loaded === 0)) body = status;
  else if (source) body = <PagedCode paged={paged} path={file.path} size={file.size} />;
  else if (kind === "markdown") body = <Markdown text={paged.text} resolveImage={resolveImage} />;
  // No scripts, no forms, an opaque origin, and no remote loads (lib/htmlPreview.ts).
  else if (kind === "html")
    body = <iframe className="preview-frame" sandbox="" srcDoc={sandboxedSrcDoc(paged.text)} title={file.path} data-testid="html-preview" />;
  else body = <CsvTable paged={paged} path={file.path} size={file.size} />;
  return (
    <>
      <div className="preview-modes">
        <div className="segmented" role="group" aria-label={t("viewLabel")}>
          <button type="button" aria-pressed={!source} className={!source ? "active" : ""} onClick={() => setSource(false)}>
            {kind === "csv" ? t("table") : t("rendered")}
          </button>
          <button type="button" aria-pressed={source} className={source ? "active" : ""} onClick={() => setSource(true)}>
            {t("source")}
          </button>
        </div>
        {kind === "html" && !source && <span className="muted small">{t("htmlSandboxed")}</span>}
      </div>
      {body}
    </>
  );
}

function TextPreview({ file, url }: { file: RunFile; url: string }) {
  const paged = usePagedText(url, file.size);
  if (paged.failure || paged.binary || (paged.loading && paged.loaded === 0)) return <ReadStatus paged={paged} />;
  return <PagedCode paged={paged} path={file.path} size={file.size} />;
}

/** Loading, or why the text cannot be shown. */
function ReadStatus({ paged }: { paged: PagedText }) {
  const t = useTranslations("files.preview");
  if (paged.failure) return <Failure failure={paged.failure} />;
  if (paged.binary) return <p className="muted">{t("binary")}</p>;
  return <p className="muted">{t("loading")}</p>;
}

function Failure({ failure }: { failure: ReadFailure }) {
  const t = useTranslations("files.preview");
  if (failure.kind === "blocked") {
    return (
      <p className="muted" data-testid="preview-unavailable">
        {t("blocked")}
      </p>
    );
  }
  return (
    <p className="muted" data-testid="preview-unavailable">
      {failure.status === 403 ? t("expired") : t("failed", { status: failure.status })}
    </p>
  );
}

function PagedCode({ paged, path, size }: { paged: PagedText; path: string; size: number }) {
  return (
    <>
      <Code code={paged.text} language={languageFor(path)} />
      <LoadMore paged={paged} size={size} />
    </>
  );
}

/** "Load more" while the file has pages left, with how much is read. */
function LoadMore({ paged, size }: { paged: PagedText; size: number }) {
  const t = useTranslations("files.preview");
  const fmt = useFileSize();
  if (paged.done && !paged.failure) return null;
  return (
    <div className="load-more">
      <span className="muted small">{t("readSoFar", { loaded: fmt(paged.loaded), total: fmt(size) })}</span>
      {paged.failure ? (
        <Failure failure={paged.failure} />
      ) : (
        <button type="button" className="button small" onClick={paged.loadMore} disabled={paged.loading} data-testid="load-more">
          {paged.loading ? t("loading") : t("loadMore")}
        </button>
      )}
    </div>
  );
}

function CsvTable({ paged, path, size }: { paged: PagedText; path: string; size: number }) {
  const t = useTranslations("files.preview");
  const parsed = useMemo(() => {
    const r = parseCsv(paged.text, { delimiter: delimiterFor(path), maxRows: MAX_TABLE_ROWS + 1 });
    // A page may end inside a record: the last one waits for the next page.
    const rows = !r.truncated && !paged.done && r.rows.length > 1 ? r.rows.slice(0, -1) : r.rows;
    return { rows, capped: r.truncated, unterminated: paged.done && r.unterminated };
  }, [paged.text, paged.done, path]);
  const [head, ...body] = parsed.rows;
  if (!head) return <p className="muted">{t("emptyTable")}</p>;
  const shown = body;
  const width = Math.max(head.length, ...shown.map((r) => r.length));
  const cells = (r: string[]) => Array.from({ length: width }, (_, i) => r[i] ?? "");
  return (
    <>
      <div className="csv-wrap">
        <table className="csv-table" data-testid="csv-table">
          <thead>
            <tr>
              <th className="csv-num" aria-label={t("rowNumber")} />
              {cells(head).map((c, i) => (
                <th key={i}>{c}</th>
              ))}
            </tr>
          </thead>
          <tbody>
            {shown.map((r, i) => (
              <tr key={i}>
                <td className="csv-num">{i + 1}</td>
                {cells(r).map((c, j) => (
                  <td key={j}>{c}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      <p className="muted small">
        {t("rows", { count: shown.length })}
        {parsed.capped && <> · {t("rowsCapped", { count: MAX_TABLE_ROWS })}</>}
        {parsed.unterminated && <> · {t("unterminated")}</>}
      </p>
      {!parsed.capped && <LoadMore paged={paged} size={size} />}
    </>
  );
}

function PdfPreview({ url, path }: { url: string; path: string }) {
  const t = useTranslations("files.preview");
  const { blobUrl, failure } = useBlob(url, "application/pdf");
  if (failure) return <Failure failure={failure} />;
  if (!blobUrl) return <p className="muted">{t("loading")}</p>;
  return <iframe className="preview-frame" src={blobUrl} title={path} data-testid="pdf-preview" />;
}
