-- The event log. Keeps the design's saga_events columns and adds what an event store needs:
-- a global position, stream id + version (unique: optimistic concurrency), type, schema
-- version, metadata, and the writing transaction's id for gap-safe reading by the relay.
CREATE TABLE saga_events (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    saga_id UUID NOT NULL,
    saga_type VARCHAR(100) NOT NULL,
    step_name VARCHAR(100) NOT NULL,
    step_status VARCHAR(20) NOT NULL,
    event_data JSONB NOT NULL,
    error_message TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    completed_at TIMESTAMP WITH TIME ZONE,

    position BIGINT GENERATED ALWAYS AS IDENTITY,
    stream_type VARCHAR(50) NOT NULL,
    stream_id UUID NOT NULL,
    stream_version INTEGER NOT NULL,
    event_type VARCHAR(100) NOT NULL,
    schema_version SMALLINT NOT NULL DEFAULT 1,
    partition_key TEXT NOT NULL,
    correlation_id UUID,
    causation_id UUID,
    user_id UUID,
    user_role VARCHAR(50),
    client_addr INET,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
    -- Set by the server at insert; every event of one append shares it.
    tx_id XID8 NOT NULL DEFAULT pg_current_xact_id(),

    CONSTRAINT valid_step_status CHECK (step_status IN ('pending', 'completed', 'failed', 'compensated')),
    CONSTRAINT saga_events_position_key UNIQUE (position),
    CONSTRAINT saga_events_stream_version_key UNIQUE (stream_id, stream_version),
    CONSTRAINT saga_events_positive_version CHECK (stream_version > 0),
    CONSTRAINT saga_events_positive_schema CHECK (schema_version > 0)
);

CREATE INDEX idx_saga_events_saga ON saga_events (saga_id);
CREATE INDEX idx_saga_events_status ON saga_events (step_status, created_at);
-- The relay reads in (tx_id, position) order below the oldest running transaction.
CREATE INDEX idx_saga_events_relay ON saga_events (tx_id, position);
CREATE INDEX idx_saga_events_correlation ON saga_events (correlation_id);

-- Commands already appended: a redelivered command becomes a no-op.
CREATE TABLE processed_commands (
    command_id UUID PRIMARY KEY,
    stream_id UUID NOT NULL,
    stream_version INTEGER NOT NULL,
    positions BIGINT[] NOT NULL,
    processed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

-- Where each outbox relay has got to, in the log's (tx_id, position) order.
CREATE TABLE relay_checkpoints (
    relay_name TEXT PRIMARY KEY,
    tx_id XID8 NOT NULL,
    position BIGINT NOT NULL,
    published_count BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);

-- One round trip per append: check the stream head, insert the events in order, remember the
-- command. A concurrent writer that wins the race makes the unique key fail, which the caller
-- reports as a conflict; a stale expected version is reported without writing anything.
-- The event insert is the transaction's first write, so its xid is assigned after any earlier
-- version of the stream committed; the relay's (tx_id, position) order keeps stream order.
CREATE FUNCTION append_events(
    p_stream_id UUID,
    p_expected_version INTEGER,
    p_command_id UUID,
    p_stream_type TEXT,
    p_partition_key TEXT,
    p_ids UUID[],
    p_types TEXT[],
    p_schema_versions SMALLINT[],
    p_payloads JSONB[],
    p_occurred_at TIMESTAMPTZ[],
    p_correlation_id UUID,
    p_causation_id UUID,
    p_user_id UUID,
    p_user_role TEXT,
    p_client_addr INET,
    p_saga_id UUID,
    p_saga_type TEXT
) RETURNS TABLE (status TEXT, stream_id UUID, stream_version INTEGER, positions BIGINT[])
LANGUAGE plpgsql AS $$
DECLARE
    v_current INTEGER;
    v_positions BIGINT[];
BEGIN
    IF p_command_id IS NOT NULL THEN
        RETURN QUERY
            SELECT 'duplicate'::TEXT, pc.stream_id, pc.stream_version, pc.positions
            FROM processed_commands pc WHERE pc.command_id = p_command_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    SELECT coalesce(max(e.stream_version), 0) INTO v_current
    FROM saga_events e WHERE e.stream_id = p_stream_id;
    IF v_current <> p_expected_version THEN
        RETURN QUERY SELECT 'conflict'::TEXT, p_stream_id, v_current, '{}'::BIGINT[];
        RETURN;
    END IF;

    WITH inserted AS (
        INSERT INTO saga_events (
            id, saga_id, saga_type, step_name, step_status, event_data, completed_at,
            stream_type, stream_id, stream_version, event_type, schema_version, partition_key,
            correlation_id, causation_id, user_id, user_role, client_addr, occurred_at
        )
        SELECT u.id, coalesce(p_saga_id, u.id), p_saga_type, u.event_type, 'completed', u.payload,
               now(), p_stream_type, p_stream_id, p_expected_version + u.ord::INTEGER,
               u.event_type, u.schema_version, p_partition_key, p_correlation_id,
               p_causation_id, p_user_id, p_user_role, p_client_addr, u.occurred_at
        FROM unnest(p_ids, p_types, p_schema_versions, p_payloads, p_occurred_at)
             WITH ORDINALITY AS u(id, event_type, schema_version, payload, occurred_at, ord)
        ORDER BY u.ord
        RETURNING saga_events.position
    )
    SELECT array_agg(i.position ORDER BY i.position) INTO v_positions FROM inserted i;

    IF p_command_id IS NOT NULL THEN
        INSERT INTO processed_commands (command_id, stream_id, stream_version, positions)
        VALUES (p_command_id, p_stream_id, p_expected_version + cardinality(p_ids), v_positions);
    END IF;

    RETURN QUERY SELECT 'ok'::TEXT, p_stream_id, p_expected_version + cardinality(p_ids), v_positions;
END;
$$;
