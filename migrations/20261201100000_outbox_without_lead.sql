-- The job board's notifications and deal updates are side effects too, and go through the same
-- outbox (durable before visible, retried, one idempotency key); they belong to no lead.
ALTER TABLE outbox ALTER COLUMN lead_id DROP NOT NULL;

