-- The design's data consistency check, data quality tests and monitoring (Scene service).
-- Differences from the design, on purpose:
--  * both functions take an optional movie id (NULL = every movie), so one movie's data can be
--    checked while other movies are being edited.
--  * literal results are cast to VARCHAR: RETURN QUERY demands the declared column types, and
--    the design's bare CASE ... END (text) fails with "structure of query does not match".
--  * orphan checks look movies and actors up in the local caches (external_movies_cache,
--    external_actors_cache): the other services' tables are in other databases.
--  * classification_hierarchy checks every level 1 letter, not only L and A, and level 3
--    against its level 2 (the design's sample only checked L2-*).
--  * checks for the new tables were added: nested scenes inside their parent, members of a
--    parallel group overlapping it, movie_scene_stats matching a recomputation, screen times
--    and dialogue lines within their scene, actors known to the cache.
--  * no cron.schedule: pg_cron is not installed; whoever operates the database runs
--    SELECT * FROM check_data_consistency() / run_data_quality_tests() on a schedule.
--  * slow_queries reads usename (the design's bare "user" is the current user, not the
--    session's), table_sizes quotes identifiers, index_usage reads pg_stat_user_indexes' own
--    column names (relname, indexrelname), check_database_health casts its literals and
--    reports long_locks as OK when there are none (the design always said WARNING).

CREATE FUNCTION check_data_consistency(p_movie_id UUID DEFAULT NULL)
RETURNS TABLE(
    check_name VARCHAR,
    status VARCHAR,
    error_count INTEGER,
    details TEXT
) AS $$
#variable_conflict use_column
BEGIN
    -- Scenes whose movie the Movie service does not know (or removed).
    RETURN QUERY
    SELECT
        'orphan_scenes'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(s.id::TEXT, ',')
    FROM scenes s
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND NOT EXISTS (SELECT 1 FROM external_movies_cache m WHERE m.id = s.movie_id);

    -- The same memorable quote recorded more than once (within one movie when filtered).
    RETURN QUERY
    SELECT
        'duplicate_dialogues'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'WARNING' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(duplicates.dialogue_text, ' | ')
    FROM (
        SELECT d.dialogue_text
        FROM scene_dialogues d
        JOIN scenes s ON s.id = d.scene_id
        WHERE d.is_memorable_quote = TRUE
          AND (p_movie_id IS NULL OR s.movie_id = p_movie_id)
        GROUP BY d.dialogue_text
        HAVING count(*) > 1
    ) duplicates;

    RETURN QUERY
    SELECT
        'invalid_time_ranges'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(s.id::TEXT, ',')
    FROM scenes s
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND s.start_time_seconds >= s.end_time_seconds;

    -- Nested scenes must lie inside a parent of the same movie.
    RETURN QUERY
    SELECT
        'nested_scenes_outside_parent'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(c.id::TEXT, ',')
    FROM scenes c
    JOIN scenes p ON p.id = c.parent_scene_id
    WHERE (p_movie_id IS NULL OR c.movie_id = p_movie_id)
      AND (p.movie_id <> c.movie_id
           OR c.start_time_seconds < p.start_time_seconds
           OR c.end_time_seconds > p.end_time_seconds);

    -- Members must be scenes of the group's movie overlapping its time range. A member scene
    -- retimed out of its group afterwards is possible (the group does not veto scene retimes).
    RETURN QUERY
    SELECT
        'parallel_members_outside_group'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'WARNING' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(m.group_id::TEXT || '/' || m.scene_id::TEXT, ',')
    FROM parallel_scene_members m
    JOIN parallel_scene_groups g ON g.id = m.group_id
    JOIN scenes s ON s.id = m.scene_id
    WHERE (p_movie_id IS NULL OR g.movie_id = p_movie_id)
      AND (s.movie_id <> g.movie_id
           OR int4range(s.start_time_seconds, s.end_time_seconds)
              && int4range(g.start_time_seconds, g.end_time_seconds) IS NOT TRUE);

    -- movie_scene_stats must equal a recomputation from the tables it summarises.
    RETURN QUERY
    WITH movies AS (
        SELECT s.movie_id FROM scenes s WHERE p_movie_id IS NULL OR s.movie_id = p_movie_id
        UNION
        SELECT st.movie_id FROM movie_scene_stats st WHERE p_movie_id IS NULL OR st.movie_id = p_movie_id
    ),
    expected AS (
        SELECT
            mv.movie_id,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id) AS total_scenes,
            (SELECT coalesce(sum(s.duration_seconds), 0) FROM scenes s WHERE s.movie_id = mv.movie_id)
                AS total_duration_seconds,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'A')
                AS action_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'R')
                AS romance_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'L')
                AS dialogue_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'C')
                AS comedy_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'D')
                AS drama_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'S')
                AS suspense_scenes_count,
            (SELECT count(*) FROM scenes s WHERE s.movie_id = mv.movie_id AND s.level1_classification = 'O')
                AS other_scenes_count,
            (SELECT count(*) FROM scene_dialogues d JOIN scenes s ON s.id = d.scene_id
              WHERE s.movie_id = mv.movie_id AND d.is_memorable_quote) AS memorable_quotes_count,
            (SELECT count(*) FROM scene_dialogues d JOIN scenes s ON s.id = d.scene_id
              WHERE s.movie_id = mv.movie_id) AS total_dialogues_count,
            (SELECT count(DISTINCT a.actor_id) FROM scene_actors a JOIN scenes s ON s.id = a.scene_id
              WHERE s.movie_id = mv.movie_id) AS unique_actors_count
        FROM movies mv
    )
    SELECT
        'movie_scene_stats_drift'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'FAIL' ELSE 'PASS' END)::VARCHAR,
        count(*)::INTEGER,
        string_agg(e.movie_id::TEXT, ',')
    FROM expected e
    LEFT JOIN movie_scene_stats st ON st.movie_id = e.movie_id
    WHERE st.movie_id IS NULL
       OR (st.total_scenes, st.total_duration_seconds, st.action_scenes_count, st.romance_scenes_count,
           st.dialogue_scenes_count, st.comedy_scenes_count, st.drama_scenes_count,
           st.suspense_scenes_count, st.other_scenes_count, st.memorable_quotes_count,
           st.total_dialogues_count, st.unique_actors_count)
          IS DISTINCT FROM
          (e.total_scenes::INTEGER, e.total_duration_seconds::INTEGER, e.action_scenes_count::INTEGER,
           e.romance_scenes_count::INTEGER, e.dialogue_scenes_count::INTEGER,
           e.comedy_scenes_count::INTEGER, e.drama_scenes_count::INTEGER,
           e.suspense_scenes_count::INTEGER, e.other_scenes_count::INTEGER,
           e.memorable_quotes_count::INTEGER, e.total_dialogues_count::INTEGER,
           e.unique_actors_count::INTEGER);
END;
$$ LANGUAGE plpgsql STABLE;

CREATE FUNCTION run_data_quality_tests(p_movie_id UUID DEFAULT NULL)
RETURNS TABLE(
    test_name VARCHAR,
    status VARCHAR,
    details TEXT
) AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT
        'valid_scene_times'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END)::VARCHAR,
        'Invalid time ranges found: ' || count(*)
    FROM scenes s
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND (s.start_time_seconds >= s.end_time_seconds
           OR s.start_time_seconds < 0
           OR s.end_time_seconds > 86400);

    RETURN QUERY
    SELECT
        'classification_hierarchy'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END)::VARCHAR,
        'Invalid classification hierarchy: ' || count(*)
    FROM scenes s
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND (left(s.level2_classification, length(s.level1_classification)) <> s.level1_classification
           OR (s.level3_classification IS NOT NULL
               AND left(s.level3_classification, length(s.level2_classification) + 1)
                   <> s.level2_classification || '-'));

    RETURN QUERY
    SELECT
        'foreign_key_integrity'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'WARNING' END)::VARCHAR,
        'Missing external references: ' || count(*)
    FROM scenes s
    LEFT JOIN external_movies_cache m ON s.movie_id = m.id
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND m.id IS NULL;

    -- Cast and speakers the Actor service does not know (removed after being cast: a warning).
    RETURN QUERY
    SELECT
        'actor_references'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'WARNING' END)::VARCHAR,
        'Unknown actors referenced: ' || count(*)
    FROM (
        SELECT a.actor_id, a.scene_id FROM scene_actors a
        UNION ALL
        SELECT d.actor_id, d.scene_id FROM scene_dialogues d
    ) refs
    JOIN scenes s ON s.id = refs.scene_id
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND NOT EXISTS (SELECT 1 FROM external_actors_cache ac WHERE ac.id = refs.actor_id);

    RETURN QUERY
    SELECT
        'screen_time_within_scene'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END)::VARCHAR,
        'Screen times longer than their scene: ' || count(*)
    FROM scene_actors a
    JOIN scenes s ON s.id = a.scene_id
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND a.screen_time_seconds > s.duration_seconds;

    RETURN QUERY
    SELECT
        'dialogues_within_scene'::VARCHAR,
        (CASE WHEN count(*) = 0 THEN 'PASS' ELSE 'FAIL' END)::VARCHAR,
        'Dialogue lines ending after their scene: ' || count(*)
    FROM scene_dialogues d
    JOIN scenes s ON s.id = d.scene_id
    WHERE (p_movie_id IS NULL OR s.movie_id = p_movie_id)
      AND coalesce(d.start_time_offset, 0) + coalesce(d.duration_seconds, 0) > s.duration_seconds;
END;
$$ LANGUAGE plpgsql STABLE;

CREATE VIEW slow_queries AS
SELECT
    pid,
    usename,
    application_name,
    client_addr,
    query_start,
    now() - query_start AS duration,
    state,
    left(query, 100) AS query_preview
FROM pg_stat_activity
WHERE state != 'idle'
  AND now() - query_start > interval '5 seconds'
ORDER BY duration DESC;

CREATE VIEW table_sizes AS
SELECT
    schemaname,
    tablename,
    pg_size_pretty(pg_total_relation_size(format('%I.%I', schemaname, tablename)::regclass)) AS size,
    pg_total_relation_size(format('%I.%I', schemaname, tablename)::regclass) AS size_bytes
FROM pg_tables
WHERE schemaname = 'public'
ORDER BY size_bytes DESC;

CREATE VIEW index_usage AS
SELECT
    schemaname,
    relname AS tablename,
    indexrelname AS indexname,
    idx_tup_read,
    idx_tup_fetch,
    idx_scan,
    CASE WHEN idx_scan > 0
         THEN round(100.0 * idx_tup_read / idx_scan, 2)
         ELSE 0
    END AS avg_tuples_per_scan
FROM pg_stat_user_indexes
ORDER BY idx_scan DESC;

CREATE FUNCTION check_database_health()
RETURNS TABLE(
    alert_type VARCHAR,
    severity VARCHAR,
    message TEXT,
    value NUMERIC
) AS $$
BEGIN
    RETURN QUERY
    SELECT
        'connection_count'::VARCHAR,
        (CASE WHEN count(*) > 80 THEN 'CRITICAL'
              WHEN count(*) > 50 THEN 'WARNING'
              ELSE 'OK' END)::VARCHAR,
        'Active connections: ' || count(*)::TEXT,
        count(*)::NUMERIC
    FROM pg_stat_activity
    WHERE state = 'active';

    RETURN QUERY
    SELECT
        'long_locks'::VARCHAR,
        (CASE WHEN count(*) > 0 THEN 'WARNING' ELSE 'OK' END)::VARCHAR,
        'Long running locks detected'::TEXT,
        count(*)::NUMERIC
    FROM pg_locks l
    JOIN pg_stat_activity a ON l.pid = a.pid
    WHERE l.granted = false
      AND now() - a.query_start > interval '30 seconds';

    RETURN QUERY
    SELECT
        'table_bloat'::VARCHAR,
        'WARNING'::VARCHAR,
        'Large table detected: ' || t.tablename,
        pg_total_relation_size(format('%I.%I', t.schemaname, t.tablename)::regclass)::NUMERIC
    FROM pg_tables t
    WHERE t.schemaname = 'public'
      AND pg_total_relation_size(format('%I.%I', t.schemaname, t.tablename)::regclass) > 1024 * 1024 * 1024;
END;
$$ LANGUAGE plpgsql STABLE;
