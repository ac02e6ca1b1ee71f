-- Scene search (read_models/search.py) at a million scenes, above all under row-level security.
-- Measured on 1,000,000 bulk-loaded scenes (bench/search.py), EXPLAIN (ANALYZE, BUFFERS) and the
-- read function timed, as the owner and as a viewer; figures in the comments below.
--
-- 1. Start-time buckets among the search keys (0009): sb:<start_time_seconds / 600>. The
--    filters-only search (R2, romantic, 600-3600 s) found 6,336 candidates by its keys and read
--    each row to drop the 4,322 outside the time range; with the buckets of 600-3600 s among the
--    keys only the scenes starting in that range are read. The buckets are coarse: the search
--    keeps the column conditions, and uses buckets for narrow ranges only (read_models/search.py).
--    Filters-only query as the owner: 2,155 candidates and 2,089 heap blocks instead of 6,336 and
--    5,807; the index scan 3.6 -> 8.6 ms, the query 39-46 -> 25-34 ms (six runs each, alternated,
--    load average 3.5 on 2 cores).
--    The new index replaces 0009's (same keys plus the bucket), so a write computes one key set.
-- 2. search_scene_key_tids() replaces search_scene_key_ids() (0009): the keyed candidates come
--    back as heap positions (ctid), which the caller's query reads with a TID scan instead of one
--    scenes_pkey descent per candidate. Design's query as a viewer (3,131 candidates):
--    "id = ANY(ids)" spent 15.5 ms in primary-key probes (15,855 buffers), "ctid = ANY(tids)"
--    3 ms (6,482 buffers); query 40 -> 24 ms, filters-only query 82 -> 36 ms.
--     * The policies still decide what is seen: tideq is leakproof, so the TID condition may run
--       before the policies' quals, which then filter every row read, as they did the ids.
--     * A ctid names a row version. The function's query runs on the snapshot of the calling
--       statement (it is STABLE, so its EXECUTE reads with that snapshot too): the positions are
--       those of the versions that statement sees, and the TID scan finds exactly the rows the
--       ids found. A row updated since has a version the statement sees neither way. The ctids
--       never leave the statement.
--     * SECURITY DEFINER as before, so that the GIN index serves @> and && (not leakproof) under
--       the policies; a caller only learns positions of rows, no more than the ids told.
--     * Dynamic SQL: each call is planned with the key lists it has (a generic plan of
--       "any_keys IS NULL OR ..." could not use them as index conditions).
-- 3. The scenes' policies (0006) test "the movie is public" with a correlated EXISTS, see below.

CREATE FUNCTION scene_search_keys_timed(
    description TEXT, level1 TEXT, level2 TEXT, level3 TEXT, tags TEXT[], start_time INTEGER
) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN public.scene_search_keys(description, level1, level2, level3, tags)
        || ('sb:' || (start_time / 600));
END
$$;

CREATE INDEX idx_scenes_search_keys_timed ON scenes USING GIN (
    scene_search_keys_timed(
        description, level1_classification, level2_classification, level3_classification, tags,
        start_time_seconds
    )
);

-- The heap positions of the scenes whose keys hold every one of all_keys, one of any_keys and
-- one of time_keys (each list but the first NULL = no such condition). Only called with some key.
CREATE FUNCTION search_scene_key_tids(all_keys TEXT[], any_keys TEXT[], time_keys TEXT[])
RETURNS SETOF TID
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    keys CONSTANT TEXT := 'scene_search_keys_timed(s.description, s.level1_classification,'
        ' s.level2_classification, s.level3_classification, s.tags, s.start_time_seconds)';
    query TEXT := 'SELECT s.ctid FROM scenes s WHERE ' || keys || ' @> $1';
BEGIN
    IF any_keys IS NOT NULL THEN
        query := query || ' AND ' || keys || ' && $2';
    END IF;
    IF time_keys IS NOT NULL THEN
        query := query || ' AND ' || keys || ' && $3';
    END IF;
    RETURN QUERY EXECUTE query USING all_keys, any_keys, time_keys;
END
$$;

-- Released together with the read API that calls search_scene_key_tids() instead (the migrations
-- run before the new API serves); without its index the old function would scan every scene.
DROP FUNCTION search_scene_key_ids(TEXT[], TEXT[]);
DROP INDEX idx_scenes_search_keys;

-- The scenes' policies (0006) with "the movie is public" as a correlated EXISTS instead of
-- "movie_id IN (SELECT id FROM external_movies_cache WHERE is_public)": the same rows (movie_id
-- is NOT NULL, the cache's id its primary key), but the IN form is planned as a hashed subplan
-- that reads and hashes every public movie (9,000 at 1M scenes: 1.3-2.4 ms) in every statement
-- that reads scenes under the policies, also through the cast's and lines' policies (0008,
-- 0010), even for the 20 rows of a search page's cast. EXISTS probes the cache's primary key per
-- scene, and the planner may still hash when it expects many rows. Measured as a viewer at 1M
-- scenes: reading a page's cast 7.3 -> 1.0 ms; the whole search (design's query) p50 37-50 ->
-- 27 ms, filters only 37-56 -> 34-35 ms, on a loaded machine.
ALTER POLICY scenes_public_movies ON scenes
USING (EXISTS (SELECT FROM external_movies_cache c WHERE c.id = scenes.movie_id AND c.is_public));

ALTER POLICY scenes_professional ON scenes
USING (
    created_by = app_current_user_id()
    OR EXISTS (SELECT FROM external_movies_cache c WHERE c.id = scenes.movie_id AND c.is_public)
);
