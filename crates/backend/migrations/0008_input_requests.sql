-- The human in the loop: requests a run waits on (permission, question, plan), their answers,
-- the tools and mode a session keeps from them, and idempotent task submits.

-- One row per `input_request` event (id = the event's request_id, made by the executor). The
-- row is the request's state: `pending` until answered (POST /input-requests/{id}/answer), or
-- `expired` (no answer by expires_at; the executor denies it) or `canceled` (the run ended).
-- Answers reach the run through the manager's long-poll, which names the requests it already
-- delivered (at-least-once; the executor ignores a second answer to a request).
CREATE TABLE input_requests (
    id          uuid PRIMARY KEY,
    run_id      uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    session_id  uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind        text NOT NULL CHECK (kind IN ('permission', 'question', 'plan')),
    tool_name   text NOT NULL,
    -- The protocol's InputRequest, whole.
    request     jsonb NOT NULL,
    status      text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'answered', 'expired', 'canceled')),
    -- The protocol's InputAnswer once answered (or expired/canceled).
    answer      jsonb,
    answered_by uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    answered_at timestamptz,
    CHECK ((status = 'pending') = (answer IS NULL))
);
CREATE INDEX input_requests_run ON input_requests (run_id, created_at);
CREATE INDEX input_requests_session ON input_requests (session_id, created_at);
CREATE INDEX input_requests_pending ON input_requests (session_id) WHERE status = 'pending';

-- Tools the owner allowed "always" (passed to later runs as --allowedTools), and the permission
-- mode a plan's approval switched the session to (later runs use it unless a task names one).
ALTER TABLE sessions
    ADD COLUMN allowed_tools text[] NOT NULL DEFAULT '{}',
    ADD COLUMN permission_mode text
        CHECK (permission_mode IN ('default', 'acceptEdits', 'plan', 'bypassPermissions'));

-- A submit's client id → what it queued: a retried POST /tasks with the same id answers the
-- same run and queues nothing. Swept by retention after a day.
CREATE TABLE task_requests (
    user_id           uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_request_id text NOT NULL CHECK (length(client_request_id) BETWEEN 1 AND 200),
    session_id        uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    run_id            uuid NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, client_request_id)
);
CREATE INDEX task_requests_age ON task_requests (created_at);
