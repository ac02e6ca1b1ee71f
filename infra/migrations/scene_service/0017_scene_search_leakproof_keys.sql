-- Scene search (read_models/search.py) under row-level security through the keys index itself,
-- instead of search_scene_key_tids() (0015) followed by a TID scan of its positions.
--
-- Why: under the scenes' policies the planner may use an index only for conditions that are
-- leakproof, and array @> / && (arraycontains, arrayoverlap) are not marked so (they are
-- polymorphic: an element type's equality may raise errors that depend on the values). 0015 went
-- around it with a SECURITY DEFINER function returning the candidates' heap positions, which the
-- caller's statement re-read by TID: every candidate was read twice, and the planner, which
-- guesses 10 positions for "ctid = ANY(array)", always probed the movies cache once per
-- candidate for the policies. Here the same two comparisons, for TEXT[] only, are LEAKPROOF
-- operators of a GIN operator class; the search keys index is rebuilt with it, and the callers'
-- statements state their keys inline, owner and policies alike.
--
-- Measured on 1,000,000 bulk-loaded scenes (bench/search.py), as a viewer, the statement alone,
-- 40 runs each alternated with the old statement, generic plans (load 2-3 on 2 cores):
-- design's query p50 24.2-38.9 -> 20.6-33.5 ms; filters only 25.2-26.8 -> 22.3-23.5 ms. The plan
-- is the owner's (Bitmap Index Scan on this index, then the heap) with the policies' check of
-- the movie as a filter on the rows read; buffers 13,233 -> 3,877 for the design's query.
--
-- Why this is sound:
--  * scene_keys_contain / scene_keys_overlap are the built-in arraycontains / arrayoverlap, the
--    functions of TEXT[] @> and &&, declared for TEXT[] arguments only. On TEXT[] they compare
--    elements with text equality (texteq, itself LEAKPROOF), and their only errors are about the
--    arrays' types, never the values: they reveal nothing of a row but their result.
--  * scene_search_keys_timed() (0015, the index expression) becomes LEAKPROOF: it computes keys
--    from the row's own columns (normalize, lower, substr, concatenation, integer division by a
--    constant), none of which raises an error for any value a row can hold, and has no side
--    effect. The functions it calls need no mark: the planner checks only the functions of the
--    condition it moves before the policies.
--  * The policies still decide what is seen: a leakproof condition may run before them, on rows
--    the caller may not see, but tells the caller nothing; the policies filter every row read.
--  * Creating LEAKPROOF and internal-language functions and an operator class needs a superuser,
--    like the extensions of the earlier migrations.
--
-- The operators' selectivity is matchingsel's: with a search's constant keys it samples the
-- expression index's statistics (3,061 rows estimated for the design's query, 3,131 found);
-- without (a generic plan) it assumes 1% a key list, as the array operators assume 0.5-1%.

CREATE FUNCTION scene_keys_contain(TEXT[], TEXT[]) RETURNS BOOLEAN
LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
AS 'arraycontains';

CREATE FUNCTION scene_keys_overlap(TEXT[], TEXT[]) RETURNS BOOLEAN
LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE LEAKPROOF
AS 'arrayoverlap';

-- Names of their own: the TEXT[] forms of @> and && would be picked over the built-in
-- polymorphic ones by every TEXT[] comparison of the database.
CREATE OPERATOR @>> (
    LEFTARG = TEXT[], RIGHTARG = TEXT[], FUNCTION = scene_keys_contain,
    RESTRICT = matchingsel, JOIN = matchingjoinsel
);

CREATE OPERATOR &&> (
    LEFTARG = TEXT[], RIGHTARG = TEXT[], FUNCTION = scene_keys_overlap,
    RESTRICT = matchingsel, JOIN = matchingjoinsel
);

-- The built-in array_ops for GIN (strategy 1 overlap, 2 contains), with the operators above.
CREATE OPERATOR CLASS scene_keys_ops FOR TYPE TEXT[] USING gin AS
    OPERATOR 1 &&> (TEXT[], TEXT[]),
    OPERATOR 2 @>> (TEXT[], TEXT[]),
    FUNCTION 1 bttextcmp(TEXT, TEXT),
    FUNCTION 2 ginarrayextract(ANYARRAY, INTERNAL, INTERNAL),
    FUNCTION 3 ginqueryarrayextract(ANYARRAY, INTERNAL, INT2, INTERNAL, INTERNAL, INTERNAL, INTERNAL),
    FUNCTION 4 ginarrayconsistent(INTERNAL, INT2, ANYARRAY, INT4, INTERNAL, INTERNAL, INTERNAL, INTERNAL),
    FUNCTION 6 ginarraytriconsistent(INTERNAL, INT2, ANYARRAY, INT4, INTERNAL, INTERNAL, INTERNAL),
    STORAGE TEXT;

ALTER FUNCTION scene_search_keys_timed(TEXT, TEXT, TEXT, TEXT, TEXT[], INTEGER) LEAKPROOF;

-- Replaces 0015's index (same expression, the operator class above), so that a write still
-- computes one key set.
CREATE INDEX idx_scenes_search_keys_leakproof ON scenes USING GIN (
    scene_search_keys_timed(
        description, level1_classification, level2_classification, level3_classification, tags,
        start_time_seconds
    ) scene_keys_ops
);

-- Released together with the read API that states the keys inline (the migrations run before
-- the new API serves); without its index the old function would scan every scene.
DROP INDEX idx_scenes_search_keys_timed;
DROP FUNCTION search_scene_key_tids(TEXT[], TEXT[], TEXT[]);
