-- The description search (search_scene_ids(), 0005) reads the scene search keys index (0017)
-- instead of an index of its own, which is dropped: every scene write computed the description's
-- tokens twice (once for each GIN index) and kept both indexes up.
--
-- Why the answer is the same: the keys of scene_search_keys_timed() are the description's 1- and
-- 2-character tokens (search_tokens(), 0005) and keys of 3 or more characters (l1:, l2:, l3:,
-- tg:, l1tg:, sb:; 0009 and 0015), while a query's keys (search_query_tokens()) are 1 or 2
-- characters long. So the scene's keys hold the query's keys exactly when its description's
-- tokens do. A scene without a description has no tokens: search_tokens(NULL) is NULL and never
-- matched, so the description IS NOT NULL test keeps it out here too (an empty query's keys, '{}',
-- are held by every key set).
--
-- What it saves: 20,000 scenes with 40-character descriptions inserted in one statement into a copy
-- of the table took 3.09-3.15 s with the index and 1.79-2.05 s without (four alternated runs), so
-- 65 us of a scene's insert were this index's tokens and GIN entries; a rebuild's index build
-- of it took 1.07 s at 200,000 scenes of short descriptions (the bench log's).
CREATE OR REPLACE FUNCTION search_scene_ids(q TEXT) RETURNS SETOF UUID
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    needle TEXT := search_normalise(q);
    keys TEXT[] := search_query_tokens(q);
BEGIN
    -- A query of 1 or 2 characters is one of the keys itself: no recheck of the text needed.
    RETURN QUERY
        SELECT s.id FROM scenes s
        WHERE scene_search_keys_timed(
                  s.description, s.level1_classification, s.level2_classification,
                  s.level3_classification, s.tags, s.start_time_seconds
              ) @>> keys
          AND s.description IS NOT NULL
          AND (char_length(needle) <= 2 OR strpos(search_normalise(s.description), needle) > 0);
END
$$;

DROP INDEX idx_scenes_description_tokens;
