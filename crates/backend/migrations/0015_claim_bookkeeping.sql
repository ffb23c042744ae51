-- A claim keeps its sessions' status itself, in the claim statement, for all the runs it hands out
-- at once (queue/claim.rs), instead of this row trigger running once per claimed run: the trigger
-- no longer fires on queued → claimed/running (only a claim makes those), as it already did not
-- on claimed → running (a start: both show as 'running').
DROP TRIGGER runs_after_status ON runs;
CREATE TRIGGER runs_after_status AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NOT (OLD.status IN ('queued', 'claimed')
                                AND NEW.status IN ('claimed', 'running')))
    EXECUTE FUNCTION runs_after_change();
