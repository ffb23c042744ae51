-- Scheduled tasks, and why each run exists.
--
-- A scheduled task fires when next_fire_at <= now(): the fire route locks due rows with
-- FOR UPDATE SKIP LOCKED, creates one run each and moves next_fire_at past now() in the same
-- transaction, so a due task fires exactly once however many managers call at once, and missed
-- fires collapse into one.
CREATE TABLE scheduled_tasks (
    id              uuid PRIMARY KEY,
    user_id         uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name            text NOT NULL,
    prompt          text NOT NULL,
    -- Five-field cron expression, evaluated in timezone (IANA name).
    cron            text NOT NULL,
    timezone        text NOT NULL,
    enabled         boolean NOT NULL DEFAULT true,
    session_mode    text NOT NULL CHECK (session_mode IN ('reuse', 'new')),
    -- The session reuse mode continues; NULL before the first fire or after the user deleted it.
    session_id      uuid REFERENCES sessions (id) ON DELETE SET NULL,
    model           text,
    permission_mode text NOT NULL,
    -- NULL while disabled.
    next_fire_at    timestamptz,
    last_fired_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scheduled_tasks_due ON scheduled_tasks (next_fire_at) WHERE enabled;
CREATE INDEX scheduled_tasks_by_user ON scheduled_tasks (user_id, name, id);

ALTER TABLE runs
    ADD COLUMN kind text NOT NULL DEFAULT 'interactive' CHECK (kind IN ('interactive', 'scheduled')),
    ADD COLUMN scheduled_task_id uuid REFERENCES scheduled_tasks (id) ON DELETE SET NULL;
-- Claims that ask for one kind walk this index in queue order; claims for every kind keep using
-- runs_runnable.
CREATE INDEX runs_runnable_by_kind ON runs (kind, queue_pos) WHERE status = 'queued' AND ready;
CREATE INDEX runs_by_scheduled_task ON runs (scheduled_task_id, queue_pos)
    WHERE scheduled_task_id IS NOT NULL;
