-- Claims carry the claiming process's epoch. A live process holds a session advisory lock on its
-- epoch; a claim whose epoch's lock can be taken belongs to a dead process and is released at
-- once (at start and periodically) instead of waiting out its lease.
ALTER TABLE lead_timers ADD COLUMN claimed_by INT;
ALTER TABLE outbox ADD COLUMN claimed_by INT;

-- The release pass looks for claims of other epochs: few rows, found without a scan of every
-- lead's timers (unclaimed rows are not in this index).
CREATE INDEX lead_timers_claimed_by_idx ON lead_timers (claimed_by) WHERE claimed_by IS NOT NULL;
