-- Sessions that move between hosts (issue 18).
--
-- Affinity: a run that becomes the head of its session's line is reserved for the manager that
-- ran the session last (its workspace is on that host) for SESSION_AFFINITY_SECONDS after
-- `ready_at`; then any manager may claim it (and restores the workspace from the last export).
ALTER TABLE runs ADD COLUMN affinity text, ADD COLUMN ready_at timestamptz;
-- For a claimer that found nothing: when does a run reserved for another manager open up.
CREATE INDEX runs_reserved ON runs (ready_at)
    WHERE status = 'queued' AND ready AND affinity IS NOT NULL;

-- The feed of deleted sessions (GET /internal/deleted-sessions): every manager drops its copy
-- of their workspaces. Written by a trigger, so the owner's delete, a project's cascade and
-- retention all reach it; entries older than 30 days are pruned by retention.
CREATE TABLE deleted_sessions (
    seq        bigserial PRIMARY KEY,
    session_id uuid NOT NULL,
    user_id    uuid NOT NULL,
    deleted_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deleted_sessions_age ON deleted_sessions (deleted_at);

CREATE FUNCTION sessions_after_delete() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO deleted_sessions (session_id, user_id) VALUES (OLD.id, OLD.user_id);
    RETURN NULL;
END;
$$;
CREATE TRIGGER sessions_after_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_after_delete();

-- As in 0001, and a readied follow-up is reserved for the manager of the run that just ended
-- when that run started (its workspace changed there).
CREATE OR REPLACE FUNCTION runs_after_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    current_status text;
    readied uuid;
BEGIN
    IF NEW.status IN ('completed', 'failed', 'canceled') THEN
        PERFORM 1 FROM sessions WHERE id = NEW.session_id FOR UPDATE;
        IF NOT EXISTS (
            SELECT 1 FROM runs
             WHERE session_id = NEW.session_id
               AND (status IN ('claimed', 'running', 'canceling') OR (status = 'queued' AND ready))
        ) THEN
            UPDATE runs SET ready = true, ready_at = now(),
                            affinity = CASE WHEN NEW.started_at IS NOT NULL
                                            THEN NEW.lease_holder ELSE affinity END
             WHERE id = (SELECT id FROM runs
                          WHERE session_id = NEW.session_id AND status = 'queued'
                          ORDER BY queue_pos LIMIT 1)
            RETURNING id INTO readied;
        END IF;
    END IF;

    SELECT r.status INTO current_status
      FROM runs r
     WHERE r.session_id = NEW.session_id
       AND r.status IN ('queued', 'claimed', 'running', 'canceling')
     ORDER BY r.queue_pos
     LIMIT 1;
    IF current_status IS NULL THEN
        SELECT r.status INTO current_status
          FROM runs r
         WHERE r.session_id = NEW.session_id
         ORDER BY r.queue_pos DESC
         LIMIT 1;
    END IF;
    UPDATE sessions
       SET status = CASE current_status WHEN 'claimed' THEN 'running' ELSE current_status END,
           updated_at = now()
     WHERE id = NEW.session_id
       AND status IS DISTINCT FROM (CASE current_status WHEN 'claimed' THEN 'running' ELSE current_status END);

    IF (NEW.status = 'queued' AND NEW.ready) OR readied IS NOT NULL THEN
        PERFORM pg_notify('run_queue', '');
    END IF;
    RETURN NULL;
END;
$$;
