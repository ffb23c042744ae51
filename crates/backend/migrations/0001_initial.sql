-- Users, sessions, the run queue and the event log.
--
-- Invariants the schema itself enforces:
--   * an event is stored once per (run, lease epoch, executor sequence number);
--   * a session's event sequence numbers are unique (gap-freeness comes from sessions.last_seq,
--     advanced under the session row lock by the ingesting transaction);
--   * run statuses are one of the protocol's names.

CREATE TABLE users (
    id            uuid PRIMARY KEY,
    email         text NOT NULL,
    -- NULL for the implicit user of single-user mode, who never logs in with a password.
    password_hash text,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Tokens logged out before they expire; rows are useless (and deleted) after expires_at.
CREATE TABLE revoked_tokens (
    jti        uuid PRIMARY KEY,
    expires_at timestamptz NOT NULL
);

CREATE TABLE sessions (
    id               uuid PRIMARY KEY,
    user_id          uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title            text NOT NULL,
    -- The status of the session's current run (its earliest unfinished one, else its latest);
    -- maintained by the runs_after_change trigger, never written by application code.
    status           text NOT NULL DEFAULT 'idle',
    -- The options the session was created with.
    config           jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- The agent's own conversation id, from the latest system_init event: follow-ups resume it.
    agent_session_id text,
    -- The last event sequence number handed out in this session.
    last_seq         bigint NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sessions_user_newest ON sessions (user_id, created_at DESC, id DESC);

CREATE TABLE runs (
    id               uuid PRIMARY KEY,
    -- Global FIFO position; also orders the runs of one session.
    queue_pos        bigserial NOT NULL UNIQUE,
    session_id       uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    prompt           text NOT NULL,
    -- model, permission_mode, and later options of the task.
    options          jsonb NOT NULL DEFAULT '{}'::jsonb,
    status           text NOT NULL DEFAULT 'queued' CHECK (status IN
                        ('queued', 'claimed', 'running', 'canceling', 'completed', 'failed', 'canceled')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts >= 1),
    lease_holder     text,
    lease_expires_at timestamptz,
    lease_seconds    integer,
    -- Fencing token: advanced by every claim and every lease expiry.
    lease_epoch      bigint NOT NULL DEFAULT 0,
    -- Not runnable before this time (retry back-off, scheduled tasks).
    scheduled_at     timestamptz NOT NULL DEFAULT now(),
    -- The head of its session's line: no earlier run of the session is unfinished. Only ready runs
    -- are claimable, so follow-ups queued behind an active run cost the claim query nothing.
    ready            boolean NOT NULL DEFAULT true,
    created_at       timestamptz NOT NULL DEFAULT now(),
    claimed_at       timestamptz,
    started_at       timestamptz,
    finished_at      timestamptz,
    error            text,
    -- One entry per failed attempt: {"attempt", "error", "at"}.
    attempt_errors   jsonb NOT NULL DEFAULT '[]'::jsonb
);
CREATE INDEX runs_runnable ON runs (queue_pos) WHERE status = 'queued' AND ready;
CREATE INDEX runs_delayed ON runs (scheduled_at) WHERE status = 'queued';
CREATE INDEX runs_unfinished_by_session ON runs (session_id, queue_pos)
    WHERE status IN ('queued', 'claimed', 'running', 'canceling');
CREATE INDEX runs_lease_expiry ON runs (lease_expires_at)
    WHERE status IN ('claimed', 'running', 'canceling');
CREATE INDEX runs_by_session ON runs (session_id, queue_pos);

CREATE TABLE events (
    session_id uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    run_id     uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    -- The lease epoch of the attempt that produced the event: a retried run numbers from 1 again.
    epoch      bigint NOT NULL,
    run_seq    bigint NOT NULL,
    type       text NOT NULL,
    payload    jsonb NOT NULL,
    time       timestamptz NOT NULL,
    stored_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, seq),
    UNIQUE (run_id, epoch, run_seq)
);

CREATE TABLE tool_executions (
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    tool_use_id text NOT NULL,
    name        text NOT NULL,
    input       jsonb NOT NULL,
    output      jsonb,
    is_error    boolean,
    started_at  timestamptz NOT NULL,
    finished_at timestamptz,
    duration_ms bigint,
    PRIMARY KEY (run_id, tool_use_id)
);

CREATE TABLE run_usage (
    run_id                      uuid PRIMARY KEY REFERENCES runs (id) ON DELETE CASCADE,
    input_tokens                bigint NOT NULL,
    output_tokens               bigint NOT NULL,
    cache_creation_input_tokens bigint NOT NULL,
    cache_read_input_tokens     bigint NOT NULL,
    total_cost_usd              double precision NOT NULL,
    duration_ms                 bigint NOT NULL,
    num_turns                   bigint NOT NULL
);

-- Keeps sessions.status in step with its runs, makes the next run of a session ready when the
-- one before it finishes, and wakes long-polling claimers (channel run_queue) whenever a run may
-- have become claimable: a ready run queued (new or re-queued), or a follow-up made ready.
--
-- Readiness is decided under the session's row lock, which POST /tasks also takes before it
-- inserts a follow-up, so a follow-up and the end of the run before it can never both miss
-- each other.
CREATE FUNCTION runs_after_change() RETURNS trigger
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
            UPDATE runs SET ready = true
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

CREATE TRIGGER runs_after_insert AFTER INSERT ON runs
    FOR EACH ROW EXECUTE FUNCTION runs_after_change();
-- claimed → running changes nothing the trigger maintains (both show as 'running'), so it is skipped.
CREATE TRIGGER runs_after_status AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NOT (OLD.status = 'claimed' AND NEW.status = 'running'))
    EXECUTE FUNCTION runs_after_change();
