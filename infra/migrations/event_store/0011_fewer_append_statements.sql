-- Fewer statements per request in append_events_batch (issue 7: commands appended per second).
-- Each statement a PL/pgSQL function runs costs a plan check and an executor start-up and
-- shut-down, and each INSERT into saga_events also re-reads the table's CHECK constraints and
-- the saga trigger's WHEN clause from their stored text (perf of a backend running 0009's
-- batches of CreateScene requests: executor start-up 18 % of its CPU, the CHECK constraints
-- 4.7 %, the trigger's WHEN 2.0 %). A CreateScene request took six statements; now two:
-- * the command's earlier result and the conditions are read by one statement;
-- * a request creating its stream (expected version 0) does not read the stream's head: if the
--   stream exists, the insert's unique key (stream_id, stream_version) rejects the request, which
--   is answered 'unique_violation' with that constraint, as a concurrent writer's is, and the
--   caller reports the conflict with the stream's actual version, as it does for 'conflict';
-- * a request of one event and no claims or releases (most are) inserts the event with
--   INSERT ... VALUES and remembers the command in the same statement; other requests insert
--   their events through unnest in their order and remember the command after the claims;
-- * answers are returned with RETURN NEXT, not with a query each.
-- The order of the checks (an earlier result, the conditions, the version), the relay-order
-- check and every answer are as in 0009. The lone path (append_events, 0007) is unchanged.
CREATE OR REPLACE FUNCTION append_events_batch(p_requests append_request[])
RETURNS TABLE (status TEXT, stream_id UUID, stream_version INTEGER, positions BIGINT[], constraint_name TEXT)
LANGUAGE plpgsql AS $$
DECLARE
    r append_request;
    v_current INTEGER;
    v_stream UUID;
    v_positions BIGINT[];
    v_unmet INTEGER;
    v_done BOOLEAN;
    v_remembered BOOLEAN;
BEGIN
    IF cardinality(p_requests) > 64 THEN
        RAISE EXCEPTION 'at most 64 appends per batch, got %', cardinality(p_requests);
    END IF;
    FOREACH r IN ARRAY p_requests LOOP
        BEGIN
            v_done := false;
            v_remembered := false;
            constraint_name := NULL;
            -- One statement for both checks that come before the version: the command's earlier
            -- result if any (it answers first), and the first unmet condition if any.
            SELECT pc.stream_id, pc.stream_version, pc.positions, (
                SELECT c.ord::INTEGER
                FROM unnest(r.req_streams, r.req_expected) WITH ORDINALITY AS c(sid, expected, ord)
                WHERE c.expected IS DISTINCT FROM coalesce((
                    SELECT t.sets
                    FROM saga_events e
                    JOIN unnest(r.req_of, r.req_types, r.req_sets) AS t(cond, event_type, sets)
                      ON t.cond = c.ord AND t.event_type = e.event_type
                    WHERE e.stream_id = c.sid AND e.event_type = ANY(r.req_types)
                    ORDER BY e.stream_version DESC
                    LIMIT 1), false)
                ORDER BY c.ord
                LIMIT 1)
            INTO v_stream, v_current, v_positions, v_unmet
            FROM (SELECT) AS one LEFT JOIN processed_commands pc ON pc.command_id = r.command_id;
            IF v_stream IS NOT NULL THEN
                status := 'duplicate';
                stream_id := v_stream;
                stream_version := v_current;
                positions := v_positions;
                RETURN NEXT;
                v_done := true;
            ELSIF v_unmet IS NOT NULL THEN
                status := 'unmet';
                stream_id := r.stream_id;
                stream_version := v_unmet;
                positions := '{}';
                RETURN NEXT;
                v_done := true;
            END IF;

            -- A new stream's head is not read: the insert's unique key rejects an existing one.
            IF NOT v_done AND r.expected_version <> 0 THEN
                SELECT coalesce(max(e.stream_version), 0) INTO v_current
                FROM saga_events e WHERE e.stream_id = r.stream_id;
                IF v_current <> r.expected_version THEN
                    status := 'conflict';
                    stream_id := r.stream_id;
                    stream_version := v_current;
                    positions := '{}';
                    RETURN NEXT;
                    v_done := true;
                END IF;
            END IF;

            IF NOT v_done THEN
                -- One event and no claims (most requests): the event and the command in one
                -- statement; otherwise the command is remembered after the claims, as in 0009.
                IF cardinality(r.ids) = 1 AND cardinality(r.claim_scopes) = 0
                   AND cardinality(r.release_scopes) = 0 THEN
                    WITH inserted AS (
                        INSERT INTO saga_events (
                            id, saga_id, saga_type, step_name, step_status, event_data, completed_at,
                            stream_type, stream_id, stream_version, event_type, schema_version, partition_key,
                            correlation_id, causation_id, user_id, user_role, client_addr, occurred_at
                        ) VALUES (
                            r.ids[1], coalesce(r.saga_id, r.ids[1]), r.saga_type, r.types[1], 'completed',
                            r.payloads[1]::JSONB, now(), r.stream_type, r.stream_id, r.expected_version + 1,
                            r.types[1], r.schema_versions[1], r.partition_key, r.correlation_id,
                            r.causation_id, r.user_id, r.user_role, r.client_addr, r.occurred_at[1])
                        RETURNING saga_events.position
                    ), remembered AS (
                        INSERT INTO processed_commands (command_id, stream_id, stream_version, positions)
                        SELECT r.command_id, r.stream_id, r.expected_version + 1, ARRAY[i.position]
                        FROM inserted i WHERE r.command_id IS NOT NULL
                    )
                    SELECT ARRAY[i.position] INTO v_positions FROM inserted i;
                    v_remembered := true;
                ELSIF cardinality(r.ids) = 1 THEN
                    INSERT INTO saga_events (
                        id, saga_id, saga_type, step_name, step_status, event_data, completed_at,
                        stream_type, stream_id, stream_version, event_type, schema_version, partition_key,
                        correlation_id, causation_id, user_id, user_role, client_addr, occurred_at
                    ) VALUES (
                        r.ids[1], coalesce(r.saga_id, r.ids[1]), r.saga_type, r.types[1], 'completed',
                        r.payloads[1]::JSONB, now(), r.stream_type, r.stream_id, r.expected_version + 1,
                        r.types[1], r.schema_versions[1], r.partition_key, r.correlation_id,
                        r.causation_id, r.user_id, r.user_role, r.client_addr, r.occurred_at[1])
                    RETURNING ARRAY[saga_events.position] INTO v_positions;
                ELSE
                    WITH inserted AS (
                        INSERT INTO saga_events (
                            id, saga_id, saga_type, step_name, step_status, event_data, completed_at,
                            stream_type, stream_id, stream_version, event_type, schema_version, partition_key,
                            correlation_id, causation_id, user_id, user_role, client_addr, occurred_at
                        )
                        SELECT u.id, coalesce(r.saga_id, u.id), r.saga_type, u.event_type, 'completed', u.payload::JSONB,
                               now(), r.stream_type, r.stream_id, r.expected_version + u.ord::INTEGER,
                               u.event_type, u.schema_version, r.partition_key, r.correlation_id,
                               r.causation_id, r.user_id, r.user_role, r.client_addr, u.occurred_at
                        FROM unnest(r.ids, r.types, r.schema_versions, r.payloads, r.occurred_at)
                             WITH ORDINALITY AS u(id, event_type, schema_version, payload, occurred_at, ord)
                        ORDER BY u.ord
                        RETURNING saga_events.position
                    )
                    SELECT array_agg(i.position ORDER BY i.position) INTO v_positions FROM inserted i;
                END IF;

                -- Most appends claim and release nothing: no statements for them.
                IF cardinality(r.release_scopes) > 0 THEN
                    -- Not aliased r: that is the loop's request.
                    DELETE FROM unique_claims c
                    USING unnest(r.release_scopes, r.release_keys) AS x(scope, key)
                    WHERE c.scope = x.scope AND c.key = x.key AND c.stream_id = r.stream_id;
                END IF;

                IF cardinality(r.claim_scopes) > 0 THEN
                    INSERT INTO unique_claims (scope, key, stream_id)
                    SELECT c.scope, c.key, r.stream_id FROM unnest(r.claim_scopes, r.claim_keys) AS c(scope, key)
                    ON CONFLICT (scope, key) DO NOTHING;
                    IF EXISTS (SELECT 1 FROM unique_claims c
                               JOIN unnest(r.claim_scopes, r.claim_keys) AS n(scope, key)
                                 ON c.scope = n.scope AND c.key = n.key
                               WHERE c.stream_id <> r.stream_id) THEN
                        RAISE EXCEPTION USING ERRCODE = 'unique_violation', CONSTRAINT = 'unique_claims_pkey',
                            MESSAGE = 'unique claim taken';
                    END IF;
                END IF;

                IF r.command_id IS NOT NULL AND NOT v_remembered THEN
                    INSERT INTO processed_commands (command_id, stream_id, stream_version, positions)
                    VALUES (r.command_id, r.stream_id, r.expected_version + cardinality(r.ids), v_positions);
                END IF;

                IF r.expected_version > 0 AND EXISTS (
                    SELECT 1 FROM saga_events e
                    WHERE e.stream_id = r.stream_id AND e.stream_version = r.expected_version
                      AND e.tx_id > pg_current_xact_id()
                ) THEN
                    RAISE EXCEPTION USING ERRCODE = 'SLB01', MESSAGE = 'append after a later transaction';
                END IF;
                status := 'ok';
                stream_id := r.stream_id;
                stream_version := r.expected_version + cardinality(r.ids);
                positions := v_positions;
                RETURN NEXT;
            END IF;
        EXCEPTION
            WHEN unique_violation THEN
                GET STACKED DIAGNOSTICS constraint_name = CONSTRAINT_NAME;
                status := 'unique_violation';
                stream_id := r.stream_id;
                stream_version := NULL;
                positions := '{}';
                RETURN NEXT;
            WHEN SQLSTATE 'SLB01' THEN
                status := 'alone';
                stream_id := r.stream_id;
                stream_version := NULL;
                positions := '{}';
                constraint_name := NULL;
                RETURN NEXT;
        END;
    END LOOP;
END;
$$;
