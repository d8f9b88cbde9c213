-- Network awareness (docs/network.md): a job the network, its cost or the battery keeps from
-- transferring waits in TRANSIENT_ERROR with no retry timer; blocked_since says since when, and
-- the no-progress window is moved past the blocked time when the block ends.
ALTER TABLE jobs ADD COLUMN blocked_since INTEGER;
-- Whether the application set COST_FLAGS itself; otherwise the config's default transfer policy
-- for the job's priority applies (network.transferPolicy), as Windows's Group Policy does.
ALTER TABLE jobs ADD COLUMN cost_flags_set INTEGER NOT NULL DEFAULT 0 CHECK (cost_flags_set IN (0, 1));
