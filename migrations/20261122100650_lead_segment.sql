-- The client's ABC segment as the CRM (or whoever creates the lead) knows it; routing gives
-- configured segments (e.g. "A") high priority.
ALTER TABLE leads ADD COLUMN segment TEXT;
