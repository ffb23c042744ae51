-- A run that leaves its worker (finished, failed, canceled, asked to stop, or re-queued after a
-- lost lease or a failed attempt) can no longer act on an answer: its pending input requests are
-- canceled in the same transaction, with an InputAnswer of outcome `canceled`, and the manager's
-- long-poll for the run is woken (channel input_answers, payload the run id) so it stops.
-- Covers every path that changes runs.status (lease, reaper, cancel), so none can forget it.
CREATE FUNCTION runs_cancel_input_requests() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    canceled integer;
BEGIN
    UPDATE input_requests
       SET status = 'canceled', answered_at = now(),
           answer = jsonb_build_object(
               'request_id', id, 'outcome', 'canceled', 'decision', 'deny',
               'message', 'the run ended before an answer', 'always', false,
               'answered_at', to_jsonb(now()))
     WHERE run_id = NEW.id AND status = 'pending';
    GET DIAGNOSTICS canceled = ROW_COUNT;
    IF canceled > 0 THEN
        PERFORM pg_notify('input_answers', NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER runs_cancel_input_requests AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NEW.status NOT IN ('claimed', 'running'))
    EXECUTE FUNCTION runs_cancel_input_requests();
