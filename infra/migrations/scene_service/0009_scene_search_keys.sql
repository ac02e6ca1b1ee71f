-- Scene search (read_models/search.py) at a million scenes: one GIN index over the description's
-- tokens and the classification and tag filters, so that a search's candidates come from one
-- index scan instead of a BitmapAnd of three large bitmaps. Measured on 1,000,000 bulk-loaded
-- scenes (bench/search.py): the design's query (level 1 R, 恋愛, tag romantic) built bitmaps of
-- 100,000 (恋愛), 143,000 (R) and 222,000 (romantic) rows, ~30 ms each, to keep 3,131; in one
-- GIN scan the rarer keys drive and the frequent ones are only probed.
--  * Keys: the description's 1- and 2-character tokens (search_tokens, 0005), and keys of 3 or
--    more characters that no token can equal: l1:<level 1>, l2:<level 2>, l3:<level 3>,
--    tg:<tag>, and l1tg:<level 1>:<tag>, the pair a query naming a level 1 and tags (any of)
--    looks up: 31,000 rows for R + romantic instead of both lists.
--  * Every key is exact (l1:R is a key exactly when level 1 is R), so the search states these
--    filters as keys only, not also on the columns; readers under row-level security, for whom
--    the planner may not use this index, get the ids from search_scene_key_ids() below.
--  * The old per-column indexes stay: other reads use them.
CREATE FUNCTION scene_search_keys(
    description TEXT, level1 TEXT, level2 TEXT, level3 TEXT, tags TEXT[]
) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    keys TEXT[] := coalesce(public.search_tokens(description), '{}');
    tag TEXT;
BEGIN
    keys := keys || ('l1:' || level1) || ('l2:' || level2);
    IF level3 IS NOT NULL THEN
        keys := keys || ('l3:' || level3);
    END IF;
    IF tags IS NOT NULL THEN
        FOREACH tag IN ARRAY tags LOOP
            IF tag IS NOT NULL THEN
                keys := keys || ('tg:' || tag) || ('l1tg:' || level1 || ':' || tag);
            END IF;
        END LOOP;
    END IF;
    RETURN keys;
END
$$;

CREATE INDEX idx_scenes_search_keys ON scenes USING GIN (
    scene_search_keys(description, level1_classification, level2_classification, level3_classification, tags)
);

-- The ids of the scenes whose keys hold every one of all_keys and, unless any_keys is NULL, one
-- of any_keys: the index scan above for readers under row-level security. As search_scene_ids()
-- (0005), SECURITY DEFINER because the planner may not use a GIN index for @> or && (not
-- leakproof) under the policies; the API selects WHERE id IN (these ids) under the caller's
-- policies, so they still decide what is seen. Only called with at least one key.
CREATE FUNCTION search_scene_key_ids(all_keys TEXT[], any_keys TEXT[]) RETURNS SETOF UUID
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
BEGIN
    IF any_keys IS NULL THEN
        RETURN QUERY
            SELECT s.id FROM scenes s
            WHERE scene_search_keys(
                s.description, s.level1_classification, s.level2_classification,
                s.level3_classification, s.tags
            ) @> all_keys;
    ELSE
        RETURN QUERY
            SELECT s.id FROM scenes s
            WHERE scene_search_keys(
                s.description, s.level1_classification, s.level2_classification,
                s.level3_classification, s.tags
            ) @> all_keys
              AND scene_search_keys(
                s.description, s.level1_classification, s.level2_classification,
                s.level3_classification, s.tags
            ) && any_keys;
    END IF;
END
$$;
