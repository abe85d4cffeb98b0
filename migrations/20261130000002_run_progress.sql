-- Why a run is not done yet, and when it will be: what the worker knows
-- while it fetches, written every few seconds (never per request).
ALTER TABLE sync_runs
    -- Okta requests the run will have made once every chain has ended
    -- (those made so far are `okta_requests`); NULL until the worker can
    -- tell (every member chain known, and the org's user count).
    ADD COLUMN requests_expected bigint,
    -- Requests a minute the run's remaining requests may go at, from the
    -- limiter's allowance of each endpoint family it still needs.
    ADD COLUMN allowed_rpm integer,
    -- The limiter holds the run's requests until then (a spent window or a
    -- 429); NULL while requests flow.
    ADD COLUMN rate_limited_until timestamptz,
    ADD COLUMN progress_reported_at timestamptz;
