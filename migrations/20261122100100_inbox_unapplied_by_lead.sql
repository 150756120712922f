-- Marking a lead's inbox rows applied (and finding leads with unapplied rows) must not scan the
-- lead's whole history: index only the unapplied rows, by lead.
DROP INDEX IF EXISTS inbox_unapplied_idx;
CREATE INDEX inbox_unapplied_lead_idx ON inbox (lead_id, id) WHERE applied_at IS NULL;
