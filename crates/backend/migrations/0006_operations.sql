-- Operations: dead-lettered runs and the indexes the retention job needs.

-- Set when a run failed on its last allowed attempt; cleared when its owner retries it.
ALTER TABLE runs ADD COLUMN dead_lettered_at timestamptz;

-- Retention finds old events by storage time. Events are appended in time order, so a BRIN index
-- is tiny and costs ingestion next to nothing.
CREATE INDEX events_stored_at_brin ON events USING brin (stored_at);

-- Retention finds inactive sessions by their last change.
CREATE INDEX sessions_updated_at ON sessions (updated_at);
