-- Events at the scale of the change: a tenant's first sync, and any run
-- whose per-row events would exceed this share of the directory's rows,
-- reach consumers as one `directory.synced` event instead.
ALTER TABLE tenants
    ADD COLUMN event_summary_percent double precision NOT NULL DEFAULT 20
        CHECK (event_summary_percent >= 0 AND event_summary_percent <= 100);

-- The relay publishes a run's events once the run has ended (they may be
-- replaced by one summary at finalize); this finds a run's held events.
CREATE INDEX change_events_unpublished_run ON change_events (run_id) WHERE published_at IS NULL;
