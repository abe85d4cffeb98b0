-- A chain is fresh when nothing it lists was stored when it was created:
-- a users chain of a tenant with no live user, the groups chain of one with
-- no live group, a member chain of a group with no stored member. Every
-- row of its kind stored at the run's end was then written by the run
-- itself, so it was seen: the writer records no seen-row for a fresh
-- chain's pages (a first sync's memberships are written once, not twice),
-- and the run's removal questions skip it (nothing there to remove).
-- Rows from before this column (false) keep their seen-rows, as before.
ALTER TABLE sync_chains ADD COLUMN fresh boolean NOT NULL DEFAULT false;
