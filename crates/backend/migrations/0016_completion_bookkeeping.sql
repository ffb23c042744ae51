-- A completion keeps its sessions' bookkeeping itself (queue/lease.rs::complete_many), in set-based
-- statements for all the runs it ends at once, instead of this row trigger running once per ended
-- run: the statement that ends the runs sets `workcell.run_bookkeeping` to `statement` for its
-- transaction, and the trigger skips those rows. Every other status change (fail, cancel, the
-- reaper, a claim handing a run back) still goes through the trigger.
DROP TRIGGER runs_after_status ON runs;
CREATE TRIGGER runs_after_status AFTER UPDATE OF status ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NOT (OLD.status IN ('queued', 'claimed')
                                AND NEW.status IN ('claimed', 'running'))
                       AND current_setting('workcell.run_bookkeeping', true)
                           IS DISTINCT FROM 'statement')
    EXECUTE FUNCTION runs_after_change();
