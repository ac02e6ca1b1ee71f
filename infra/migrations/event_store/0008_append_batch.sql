-- Group commit: concurrent appends of one process sent together, one round trip, one
-- transaction, one WAL flush. Each request is 0007's append_events with its arguments in one
-- composite value (PostgreSQL arrays cannot be ragged; asyncpg encodes a tuple per request).
-- Every request runs in its own subtransaction, so its outcome is what it would be alone:
-- a unique violation (a claim held by another stream, a concurrent writer of the same
-- version, a command id appended concurrently) rolls back that request only and is answered
-- with status 'unique_violation' and the constraint's name, which the caller maps as for a
-- lone append. Any other error aborts the whole batch (nothing written); the caller then
-- appends each request alone.
--
-- Relay order: 0001 relies on the event insert being a transaction's first write, so its xid
-- is assigned after every earlier version of the stream committed. In a batch the xid is
-- assigned by the first request; a later request may follow a version committed since by a
-- transaction with a greater xid, and (tx_id, position) order would then relay it before
-- that version. Such a request is rolled back and answered 'alone': the caller appends it in
-- its own transaction. Batches stay at most 64 requests: more written subtransactions than
-- that overflow the backend's subxid cache, which slows every other snapshot.
CREATE TYPE append_request AS (
    stream_id UUID,
    expected_version INTEGER,
    command_id UUID,
    stream_type TEXT,
    partition_key TEXT,
    ids UUID[],
    types TEXT[],
    schema_versions SMALLINT[],
    payloads TEXT[],
    occurred_at TIMESTAMPTZ[],
    correlation_id UUID,
    causation_id UUID,
    user_id UUID,
    user_role TEXT,
    client_addr INET,
    saga_id UUID,
    saga_type TEXT,
    claim_scopes TEXT[],
    claim_keys TEXT[],
    release_scopes TEXT[],
    release_keys TEXT[],
    req_streams UUID[],
    req_expected BOOLEAN[],
    req_of INTEGER[],
    req_types TEXT[],
    req_sets BOOLEAN[]
);

CREATE FUNCTION append_events_batch(p_requests append_request[])
RETURNS TABLE (status TEXT, stream_id UUID, stream_version INTEGER, positions BIGINT[], constraint_name TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    r append_request;
    v_status TEXT;
    v_stream_id UUID;
    v_version INTEGER;
    v_positions BIGINT[];
    v_constraint TEXT;
BEGIN
    IF cardinality(p_requests) > 64 THEN
        RAISE EXCEPTION 'at most 64 appends per batch, got %', cardinality(p_requests);
    END IF;
    FOREACH r IN ARRAY p_requests LOOP
        BEGIN
            SELECT a.status, a.stream_id, a.stream_version, a.positions
            INTO v_status, v_stream_id, v_version, v_positions
            FROM append_events(
                r.stream_id, r.expected_version, r.command_id, r.stream_type, r.partition_key,
                r.ids, r.types, r.schema_versions, r.payloads::JSONB[], r.occurred_at,
                r.correlation_id, r.causation_id, r.user_id, r.user_role, r.client_addr,
                r.saga_id, r.saga_type, r.claim_scopes, r.claim_keys, r.release_scopes,
                r.release_keys, r.req_streams, r.req_expected, r.req_of, r.req_types, r.req_sets
            ) AS a;
            IF v_status = 'ok' AND r.expected_version > 0 AND EXISTS (
                SELECT 1 FROM saga_events e
                WHERE e.stream_id = r.stream_id AND e.stream_version = r.expected_version
                  AND e.tx_id > pg_current_xact_id()
            ) THEN
                RAISE EXCEPTION USING ERRCODE = 'SLB01', MESSAGE = 'append after a later transaction';
            END IF;
            RETURN QUERY SELECT v_status, v_stream_id, v_version, v_positions, NULL::TEXT;
        EXCEPTION
            WHEN unique_violation THEN
                GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
                RETURN QUERY SELECT 'unique_violation'::TEXT, r.stream_id, NULL::INTEGER,
                    '{}'::BIGINT[], v_constraint;
            WHEN SQLSTATE 'SLB01' THEN
                RETURN QUERY SELECT 'alone'::TEXT, r.stream_id, NULL::INTEGER, '{}'::BIGINT[], NULL::TEXT;
        END;
    END LOOP;
END;
$$;
