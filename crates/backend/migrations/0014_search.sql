-- Finding past work (issue 17): search over a user's session titles, run prompts, assistant text
-- and changed files' paths; pinned sessions.
--
-- search_documents holds one row per searchable text, apart from the event log so that only
-- the texts worth searching carry full-text and trigram indexes:
--   * 'title'     one per session (session_id; run_id and seq NULL), kept by a trigger on sessions;
--   * 'prompt'    one per run (run_id), kept by a trigger on runs (follow-ups' edits included);
--   * 'assistant' one per assistant_text event, 'file' one per file_changes event (run_id, seq),
--                 written by the event ingester in the transaction that stores the events.
-- user_id and project_id are the session's (neither ever changes). Rows go with their session
-- (and an event's with its event, when retention deletes old events).
-- Only the first 10,000 characters of a text are searchable (protocol::search::MAX_INDEXED_CHARS).
--
-- Indexes: GIN on (user_id, tsv) for whole words (websearch_to_tsquery, 'simple' config: no
-- stemming, any language) and GIN on (user_id, body gin_trgm_ops) for parts of words and text
-- without spaces (Chinese), through ILIKE '%…%'. btree_gin puts user_id into both, so a search
-- reads the caller's entries only, whatever other users wrote. Both keep GIN's pending list
-- (fastupdate, 4 MB): ingestion appends to it; with it off, concurrent ingesters queue on the
-- entries every text shares (3x slower ingestion of assistant text); a full list adds 1-2 ms
-- to a search (docs/benchmarks.md).

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS btree_gin;

CREATE TABLE search_documents (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    uuid NOT NULL,
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    project_id uuid,
    run_id     uuid,
    seq        bigint,
    kind       text NOT NULL CHECK (kind IN ('title', 'prompt', 'assistant', 'file')),
    body       text NOT NULL,
    created_at timestamptz NOT NULL,
    tsv        tsvector GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED,
    FOREIGN KEY (session_id, seq) REFERENCES events (session_id, seq) ON DELETE CASCADE
);

-- Backfill, before the indexes (built once, faster than row by row).
INSERT INTO search_documents (user_id, session_id, project_id, kind, body, created_at)
SELECT user_id, id, project_id, 'title', left(title, 10000), created_at FROM sessions;

INSERT INTO search_documents (user_id, session_id, project_id, run_id, kind, body, created_at)
SELECT s.user_id, s.id, s.project_id, r.id, 'prompt', left(r.prompt, 10000), r.created_at
  FROM runs r JOIN sessions s ON s.id = r.session_id;

INSERT INTO search_documents (user_id, session_id, project_id, run_id, seq, kind, body, created_at)
SELECT s.user_id, s.id, s.project_id, e.run_id, e.seq, 'assistant',
       left(e.payload->>'text', 10000), e.time
  FROM events e JOIN sessions s ON s.id = e.session_id
 WHERE e.type = 'assistant_text' AND btrim(coalesce(e.payload->>'text', '')) <> '';

INSERT INTO search_documents (user_id, session_id, project_id, run_id, seq, kind, body, created_at)
SELECT s.user_id, s.id, s.project_id, e.run_id, e.seq, 'file', left(p.paths, 10000), e.time
  FROM events e
  JOIN sessions s ON s.id = e.session_id
  CROSS JOIN LATERAL (
      SELECT string_agg(concat_ws(E'\n', c->>'old_path', c->>'path'), E'\n') AS paths
        FROM jsonb_array_elements(CASE jsonb_typeof(e.payload->'changes')
                                      WHEN 'array' THEN e.payload->'changes'
                                      ELSE '[]'::jsonb END) c
  ) p
 WHERE e.type = 'file_changes' AND coalesce(p.paths, '') <> '';

-- Session deletion (cascade) and retention of events (cascade) find rows through this index;
-- NULL seqs (titles, prompts) never collide.
CREATE UNIQUE INDEX search_documents_event ON search_documents (session_id, seq);
CREATE UNIQUE INDEX search_documents_title ON search_documents (session_id) WHERE kind = 'title';
CREATE UNIQUE INDEX search_documents_prompt ON search_documents (run_id) WHERE kind = 'prompt';
CREATE INDEX search_documents_words ON search_documents USING gin (user_id, tsv);
CREATE INDEX search_documents_trigrams ON search_documents USING gin (user_id, body gin_trgm_ops);

CREATE FUNCTION search_index_session() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_documents (user_id, session_id, project_id, kind, body, created_at)
    VALUES (NEW.user_id, NEW.id, NEW.project_id, 'title', left(NEW.title, 10000), NEW.created_at)
    ON CONFLICT (session_id) WHERE kind = 'title' DO UPDATE SET body = EXCLUDED.body;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_search_insert AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION search_index_session();
CREATE TRIGGER sessions_search_title AFTER UPDATE OF title ON sessions
    FOR EACH ROW WHEN (OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION search_index_session();

CREATE FUNCTION search_index_run() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO search_documents (user_id, session_id, project_id, run_id, kind, body, created_at)
    SELECT s.user_id, s.id, s.project_id, NEW.id, 'prompt', left(NEW.prompt, 10000), NEW.created_at
      FROM sessions s WHERE s.id = NEW.session_id
    ON CONFLICT (run_id) WHERE kind = 'prompt' DO UPDATE SET body = EXCLUDED.body;
    RETURN NULL;
END;
$$;

CREATE TRIGGER runs_search_insert AFTER INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION search_index_run();
CREATE TRIGGER runs_search_prompt AFTER UPDATE OF prompt ON runs
    FOR EACH ROW WHEN (OLD.prompt IS DISTINCT FROM NEW.prompt)
    EXECUTE FUNCTION search_index_run();

-- Pins. The partial index serves GET /sessions?pinned=true in the list's order.
ALTER TABLE sessions ADD COLUMN pinned_at timestamptz;
CREATE INDEX sessions_user_pinned ON sessions (user_id, created_at DESC, id DESC)
    WHERE pinned_at IS NOT NULL;
-- GET /sessions?status=… filters the user's newest-first scan: an index on status would cost
-- every run's status changes their HOT updates, for a filter a user applies now and then.

-- A pin or unpin reaches the owner's other tabs like a rename.
CREATE TRIGGER sessions_announce_pin AFTER UPDATE OF pinned_at ON sessions
    FOR EACH ROW WHEN (OLD.pinned_at IS DISTINCT FROM NEW.pinned_at)
    EXECUTE FUNCTION sessions_announce();
