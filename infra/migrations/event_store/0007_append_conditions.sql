-- As 0002's append_events, plus conditions on other streams checked in the same round trip:
-- a command that refers to another entity (a scene's movie must exist and not be being
-- removed) no longer reads that entity's stream first. Condition i holds when the latest event
-- of p_req_streams[i] among the types listed for it (p_req_of = i) is one that sets it
-- (p_req_sets) -- no such event: not set -- and that equals p_req_expected[i]. The first
-- condition that does not hold is answered with status 'unmet' and its number (1-based) in
-- stream_version, and nothing is written; the caller then reads that stream to say exactly why.
-- Order of the checks: an already appended command, then the conditions, then the version.
-- Also: the claim statements run only when there are claims or releases.
DROP FUNCTION append_events(UUID, INTEGER, UUID, TEXT, TEXT, UUID[], TEXT[], SMALLINT[], JSONB[],
    TIMESTAMPTZ[], UUID, UUID, UUID, TEXT, INET, UUID, TEXT, TEXT[], TEXT[], TEXT[], TEXT[]);

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
    p_release_keys TEXT[] DEFAULT '{}',
    p_req_streams UUID[] DEFAULT '{}',
    p_req_expected BOOLEAN[] DEFAULT '{}',
    p_req_of INTEGER[] DEFAULT '{}',
    p_req_types TEXT[] DEFAULT '{}',
    p_req_sets BOOLEAN[] DEFAULT '{}'
) RETURNS TABLE (status TEXT, stream_id UUID, stream_version INTEGER, positions BIGINT[])
LANGUAGE plpgsql AS $$
DECLARE
    v_current INTEGER;
    v_positions BIGINT[];
    v_unmet INTEGER;
BEGIN
    IF p_command_id IS NOT NULL THEN
        RETURN QUERY
            SELECT 'duplicate'::TEXT, pc.stream_id, pc.stream_version, pc.positions
            FROM processed_commands pc WHERE pc.command_id = p_command_id;
        IF FOUND THEN
            RETURN;
        END IF;
    END IF;

    IF cardinality(p_req_streams) > 0 THEN
        -- One statement for all conditions; each reads its stream backwards along the
        -- (stream_id, stream_version) key until the latest event of one of its types.
        SELECT r.ord::INTEGER INTO v_unmet
        FROM unnest(p_req_streams, p_req_expected) WITH ORDINALITY AS r(sid, expected, ord)
        WHERE r.expected IS DISTINCT FROM coalesce((
            SELECT t.sets
            FROM saga_events e
            JOIN unnest(p_req_of, p_req_types, p_req_sets) AS t(cond, event_type, sets)
              ON t.cond = r.ord AND t.event_type = e.event_type
            WHERE e.stream_id = r.sid AND e.event_type = ANY(p_req_types)
            ORDER BY e.stream_version DESC
            LIMIT 1), false)
        ORDER BY r.ord
        LIMIT 1;
        IF v_unmet IS NOT NULL THEN
            RETURN QUERY SELECT 'unmet'::TEXT, p_stream_id, v_unmet, '{}'::BIGINT[];
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

    -- Most appends claim and release nothing: no statements for them (each costs a plan run).
    IF cardinality(p_release_scopes) > 0 THEN
        DELETE FROM unique_claims c
        USING unnest(p_release_scopes, p_release_keys) AS r(scope, key)
        WHERE c.scope = r.scope AND c.key = r.key AND c.stream_id = p_stream_id;
    END IF;

    IF cardinality(p_claim_scopes) > 0 THEN
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
    END IF;

    IF p_command_id IS NOT NULL THEN
        INSERT INTO processed_commands (command_id, stream_id, stream_version, positions)
        VALUES (p_command_id, p_stream_id, p_expected_version + cardinality(p_ids), v_positions);
    END IF;

    RETURN QUERY SELECT 'ok'::TEXT, p_stream_id, p_expected_version + cardinality(p_ids), v_positions;
END;
$$;

-- The saga columns trigger (0005) only changes rows of saga streams: let the trigger's WHEN
-- skip the others without entering PL/pgSQL at all (most rows of the log are not saga rows).
DROP TRIGGER saga_event_columns ON saga_events;
CREATE TRIGGER saga_event_columns BEFORE INSERT ON saga_events
FOR EACH ROW WHEN (NEW.stream_type = 'saga') EXECUTE FUNCTION saga_event_columns();
