-- Files users upload for their tasks, and which runs stage which of them into `inputs/`.
--
-- The object key is made by the backend at upload time (`users/{user_id}/attachments/{id}/{name}`)
-- and lives here only: neither the browser nor a task request ever names a key.
CREATE TABLE attachments (
    id           uuid PRIMARY KEY,
    user_id      uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The sanitised file name; the run sees the file as inputs/{name}.
    name         text NOT NULL,
    object_key   text NOT NULL UNIQUE,
    size         bigint NOT NULL CHECK (size >= 0),
    content_type text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX attachments_by_user ON attachments (user_id, created_at DESC);

-- The attachments of a run, in the order the task listed them. Looked up by the claim (one index
-- probe on the primary key per claimed run).
CREATE TABLE run_attachments (
    run_id        uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position      integer NOT NULL,
    attachment_id uuid NOT NULL REFERENCES attachments (id) ON DELETE CASCADE,
    PRIMARY KEY (run_id, position)
);
CREATE INDEX run_attachments_by_attachment ON run_attachments (attachment_id);
