-- The workspace export of each run, as its worker reported it. Object keys are stored here and
-- only here: file routes take them from this table, never from a request.
CREATE TABLE run_exports (
    run_id         uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    epoch          bigint NOT NULL,
    status         text NOT NULL CHECK (status IN ('ready', 'failed')),
    manifest_key   text,
    archive_key    text,
    files          bigint NOT NULL DEFAULT 0,
    added          bigint NOT NULL DEFAULT 0,
    modified       bigint NOT NULL DEFAULT 0,
    unchanged      bigint NOT NULL DEFAULT 0,
    deleted        bigint NOT NULL DEFAULT 0,
    uploaded_bytes bigint NOT NULL DEFAULT 0,
    error          text,
    reported_at    timestamptz NOT NULL DEFAULT now()
);
