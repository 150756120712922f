-- A per-lead secret for the client side (web chat): messages and the transcript of a lead are
-- readable only with it (lead ids are sequential; transcripts hold phone numbers).
ALTER TABLE leads ADD COLUMN chat_token TEXT;
