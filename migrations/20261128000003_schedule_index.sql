-- The schedule without a scan of every tenant on every tick: each tenant
-- carries its next due instant, indexed; a tick touches only the due ones.

-- The first slot strictly after `after` for a tenant's minute of the day
-- (or its preferred hour, in its time zone; an unknown zone counts as UTC).
CREATE FUNCTION dirsync_slot_after(minute integer, preferred_hour integer, zone text, after timestamptz)
    RETURNS timestamptz LANGUAGE plpgsql STABLE PARALLEL SAFE AS $$
DECLARE
    z text := 'UTC';
    m integer := coalesce(preferred_hour * 60 + minute % 60, minute);
    day timestamp;
    slot timestamptz;
BEGIN
    IF zone IS NOT NULL AND EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = zone) THEN
        z := zone;
    END IF;
    day := date_trunc('day', after AT TIME ZONE z);
    slot := (day + make_interval(mins => m)) AT TIME ZONE z;
    IF slot <= after THEN
        slot := (day + interval '1 day' + make_interval(mins => m)) AT TIME ZONE z;
    END IF;
    RETURN slot;
END $$;

ALTER TABLE tenants ADD COLUMN next_run_at timestamptz;
UPDATE tenants SET next_run_at = dirsync_slot_after(schedule_minute, preferred_hour, time_zone, now());
ALTER TABLE tenants ALTER COLUMN next_run_at SET NOT NULL;
CREATE INDEX tenants_next_run ON tenants (next_run_at);

-- Whoever changes a tenant's slot (registration, the API's settings), the
-- next due instant follows.
CREATE FUNCTION dirsync_tenant_next_run() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_run_at := dirsync_slot_after(NEW.schedule_minute, NEW.preferred_hour, NEW.time_zone, now());
    RETURN NEW;
END $$;
CREATE TRIGGER tenants_next_run
    BEFORE INSERT OR UPDATE OF schedule_minute, preferred_hour, time_zone ON tenants
    FOR EACH ROW EXECUTE FUNCTION dirsync_tenant_next_run();

-- Retries look at recent failures only.
CREATE INDEX sync_runs_failed_recent ON sync_runs (finished_at) WHERE state = 'failed';
