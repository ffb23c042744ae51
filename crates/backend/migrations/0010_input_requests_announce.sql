-- A session's count of pending input requests is part of its view (`pending_inputs`, the session
-- list's "needs you" mark): announce the session on `session_changes` when a request opens or
-- leaves `pending`, as 0002 does for status and title changes. Identical notifications in one
-- transaction are delivered once.
CREATE FUNCTION input_requests_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('session_changes', NEW.user_id::text || ' ' || NEW.session_id::text);
    RETURN NULL;
END;
$$;

CREATE TRIGGER input_requests_announce_insert AFTER INSERT ON input_requests
    FOR EACH ROW EXECUTE FUNCTION input_requests_announce();
CREATE TRIGGER input_requests_announce_update AFTER UPDATE OF status ON input_requests
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION input_requests_announce();
