-- Crypto-shredding (infra/pii.py): one random AES-256 data key per person, under which the
-- personal fields of that person's events are stored encrypted in saga_events.event_data.
-- Erasing a person deletes the key: the row stays as a tombstone (data_key NULL, erased_at
-- set) so that no key is ever created for them again, and every sealed field of theirs stays
-- unreadable for good, in the log, on Kafka and in any copy of either.
CREATE TABLE personal_data_keys (
    subject_id UUID PRIMARY KEY,
    data_key BYTEA,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    erased_at TIMESTAMP WITH TIME ZONE,

    CONSTRAINT personal_data_key_or_erased CHECK ((data_key IS NULL) = (erased_at IS NOT NULL)),
    CONSTRAINT personal_data_key_length CHECK (octet_length(data_key) = 32)
);

-- An event stored with "$shred": <user id> (a class with erases_personal_data, e.g. UserErased)
-- deletes that person's key in the same transaction as its append, whatever path appended it:
-- an event saying "erased" with a key still there, or a key gone without the event, cannot
-- happen. A trigger, not a change to append_events, which other migrations replace.
CREATE FUNCTION shred_personal_data_key() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO personal_data_keys AS k (subject_id, data_key, erased_at)
    VALUES ((NEW.event_data->>'$shred')::UUID, NULL, now())
    ON CONFLICT (subject_id) DO UPDATE SET data_key = NULL, erased_at = coalesce(k.erased_at, now());
    RETURN NULL;
END;
$$;

CREATE TRIGGER saga_events_shred_personal_data AFTER INSERT ON saga_events
FOR EACH ROW WHEN (NEW.event_data ? '$shred') EXECUTE FUNCTION shred_personal_data_key();
