-- The next timer due is asked after every step that arms one: the earliest free timer comes
-- from lead_timers_due_idx, the earliest lapsing claim from this (claimed timers are few).
CREATE INDEX lead_timers_claimed_until_idx ON lead_timers (claimed_until) WHERE claimed_until IS NOT NULL;

-- The outbox claim takes the oldest pending rows first: walked in id order it stops after its
-- batch, where the index on next_attempt_at made it gather and sort every due row (the whole
-- backlog, when delivery has fallen behind).
CREATE INDEX outbox_pending_id_idx ON outbox (id) WHERE status = 'pending';

-- The failed-rows gauge counts them every few seconds: without an index that was a scan of the
-- whole outbox (sent rows included); failed rows are few.
CREATE INDEX outbox_failed_idx ON outbox (id) WHERE status = 'failed';
