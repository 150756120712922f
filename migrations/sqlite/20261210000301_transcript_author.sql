-- Who wrote an outgoing line when a person took the conversation over; NULL: the bot.
ALTER TABLE transcript ADD COLUMN author TEXT;
