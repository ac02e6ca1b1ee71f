-- Values that must be unique across streams (an email, an actor's name + birth date), claimed
-- in the same transaction as the append that introduces them.
CREATE TABLE unique_claims (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    stream_id UUID NOT NULL,
    claimed_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    PRIMARY KEY (scope, key)
);
CREATE INDEX idx_unique_claims_stream ON unique_claims (stream_id);

DROP FUNCTION append_events(UUID, INTEGER, UUID, TEXT, TEXT, UUID[], TEXT[], SMALLINT[], JSONB[],
    TIMESTAMPTZ[], UUID, UUID, UUID, TEXT, INET, UUID, TEXT);

-- As 0001's, plus unique claims: released ones are deleted (only if this stream holds them),
-- new ones inserted; a claim held by another stream fails the unique key and nothing is written.
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
    p_saga_type TEXT,
    p_claim_scopes TEXT[] DEFAULT '{}',
    p_claim_keys TEXT[] DEFAULT '{}',
    p_release_scopes TEXT[] DEFAULT '{}',
    p_release_keys TEXT[] DEFAULT '{}'
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

    DELETE FROM unique_claims c
    USING unnest(p_release_scopes, p_release_keys) AS r(scope, key)
    WHERE c.scope = r.scope AND c.key = r.key AND c.stream_id = p_stream_id;

    INSERT INTO unique_claims (scope, key, stream_id)
    SELECT c.scope, c.key, p_stream_id FROM unnest(p_claim_scopes, p_claim_keys) AS c(scope, key)
    ON CONFLICT (scope, key) DO NOTHING;
    IF EXISTS (SELECT 1 FROM unique_claims c
               JOIN unnest(p_claim_scopes, p_claim_keys) AS n(scope, key)
                 ON c.scope = n.scope AND c.key = n.key
               WHERE c.stream_id <> p_stream_id) THEN
        RAISE EXCEPTION USING ERRCODE = 'unique_violation', CONSTRAINT = 'unique_claims_pkey',
            MESSAGE = 'unique claim taken';
    END IF;

    IF p_command_id IS NOT NULL THEN
        INSERT INTO processed_commands (command_id, stream_id, stream_version, positions)
        VALUES (p_command_id, p_stream_id, p_expected_version + cardinality(p_ids), v_positions);
    END IF;

    RETURN QUERY SELECT 'ok'::TEXT, p_stream_id, p_expected_version + cardinality(p_ids), v_positions;
END;
$$;
