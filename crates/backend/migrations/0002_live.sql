-- Live updates: sessions announce their changes so every backend replica can push them to the
-- owner's WebSockets. Payload: '<user_id> <session_id>'. Event batches announce themselves from
-- the ingestion transaction (channel session_events, payload '<session_id>').
CREATE FUNCTION sessions_announce() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('session_changes', OLD.user_id::text || ' ' || OLD.id::text);
    ELSE
        PERFORM pg_notify('session_changes', NEW.user_id::text || ' ' || NEW.id::text);
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER sessions_announce_insert AFTER INSERT ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_announce();
CREATE TRIGGER sessions_announce_update AFTER UPDATE OF status, title ON sessions
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.title IS DISTINCT FROM NEW.title)
    EXECUTE FUNCTION sessions_announce();
CREATE TRIGGER sessions_announce_delete AFTER DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION sessions_announce();
