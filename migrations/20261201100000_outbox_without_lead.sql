-- The job board's notifications and deal updates are side effects too, and go through the same
-- outbox (durable before visible, retried, one idempotency key); they belong to no lead.
ALTER TABLE outbox ALTER COLUMN lead_id DROP NOT NULL;

-- A lead's rows are claimed in order (nothing overtakes an earlier row that waits): the claim
-- looks up earlier pending rows of the same lead and kind.
CREATE INDEX outbox_lead_pending_idx ON outbox (lead_id, kind, id) WHERE status = 'pending';
