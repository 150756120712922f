-- Who wrote an outgoing line when a person took the conversation over (a console user's
-- name); NULL: the bot.
ALTER TABLE transcript ADD COLUMN author TEXT;
