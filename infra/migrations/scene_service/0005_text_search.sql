-- Japanese and English substring search over dialogue lines, subtitles and scene descriptions.
-- Replaces the design's pg_bigm indexes (pg_bigm is not packaged for Debian, and pg_trgm cannot
-- use its index below three characters): a GIN index over the unigrams and bigrams of the
-- normalised text, and an exact strpos recheck. See read_models/text_search.py for the query.
--  * Normalisation is NFKC then lower-case on both sides, so full-width and half-width forms
--    match (ＡＢＣ = abc, ｱｲｳ = アイウ). normalize() needs a UTF8 database.
--  * Unigrams are indexed too, so 1-character queries (猫) use the index; longer queries look
--    up their bigrams only.
--  * The recheck is strpos, not LIKE: no pattern escaping, and no index can claim it, so
--    generic (prepared) plans keep using only these indexes.
--  * Expression indexes, not columns kept by the projection: no change to the projection, at
--    the price of computing the tokens in SQL on every write of the indexed columns.

-- The text as search compares it. The IS NFKC NORMALIZED test is a fast path with the same
-- result: normalize() costs about twice as much, and most text is already in NFKC.
CREATE FUNCTION search_normalise(t TEXT) RETURNS TEXT
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT lower(CASE WHEN t IS NFKC NORMALIZED THEN t ELSE normalize(t, NFKC) END) $$;

-- The 1- and 2-character substrings of the normalised text, with repeats (GIN keeps each key
-- once). plpgsql with a loop: measured ~10x faster than one SQL query (generate_series +
-- array_agg DISTINCT), and the function runs on every write of an indexed column. The
-- normalisation is written out, not a call of search_normalise(), so that the index expression
-- depends only on pg_catalog (restores run with an empty search_path).
CREATE FUNCTION search_tokens(t TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    n TEXT := lower(CASE WHEN t IS NFKC NORMALIZED THEN t ELSE normalize(t, NFKC) END);
    len INTEGER := char_length(n);
    tokens TEXT[] := '{}';
BEGIN
    FOR i IN 1..len LOOP
        tokens := tokens || substr(n, i, 1);
        IF i < len THEN
            tokens := tokens || substr(n, i, 2);
        END IF;
    END LOOP;
    RETURN tokens;
END
$$;

-- The tokens a text containing the query must have: the unigram of a 1-character query,
-- else the query's bigrams (each of them is among the text's tokens). Lengths are those of the
-- normalised query: ｶﾞ is one character (ガ), ㍻ two (平成).
CREATE FUNCTION search_query_tokens(q TEXT) RETURNS TEXT[]
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $$
DECLARE
    n TEXT := lower(CASE WHEN q IS NFKC NORMALIZED THEN q ELSE normalize(q, NFKC) END);
    len INTEGER := char_length(n);
    tokens TEXT[] := '{}';
BEGIN
    IF len = 1 THEN
        RETURN ARRAY[n];
    END IF;
    FOR i IN 1..len - 1 LOOP
        tokens := tokens || substr(n, i, 2);
    END LOOP;
    RETURN tokens;
END
$$;

CREATE INDEX idx_scene_dialogues_text_tokens ON scene_dialogues USING GIN (search_tokens(dialogue_text));
CREATE INDEX idx_scene_dialogues_subtitle_tokens ON scene_dialogues USING GIN (search_tokens(subtitle_text));
CREATE INDEX idx_scenes_description_tokens ON scenes USING GIN (search_tokens(description));

-- The ids of the lines (dialogue or subtitle) and scenes (description) containing q, index-backed.
--  * SECURITY DEFINER, so the search runs as the tables' owner: under row-level security the
--    planner may not use an index for a non-leakproof operator such as @> (it must apply the
--    policies first), and would compute search_tokens() on every row. The API selects the rows
--    WHERE id IN (these ids) under the caller's policies, so they still decide what is seen; a
--    caller only learns ids, and only through that query.
--  * A query of 1 or 2 normalised characters is one key, and a text has that key exactly when
--    it contains the query: the index answer is exact, and the strpos recheck (which normalises
--    every candidate, the main cost of a frequent key) is skipped.
--  * The normalised query and its keys are computed once into variables: in a generic plan
--    an expression of the parameter would be evaluated again for every candidate row.
--  * UNION of two index scans rather than OR: with OR a generic plan re-evaluates the
--    search_tokens() of both columns on every candidate row.
CREATE FUNCTION search_dialogue_ids(q TEXT) RETURNS SETOF UUID
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    needle TEXT := search_normalise(q);
    keys TEXT[] := search_query_tokens(q);
BEGIN
    IF char_length(needle) <= 2 THEN
        RETURN QUERY
            SELECT d.id FROM scene_dialogues d WHERE search_tokens(d.dialogue_text) @> keys
            UNION
            SELECT d.id FROM scene_dialogues d WHERE search_tokens(d.subtitle_text) @> keys;
    ELSE
        RETURN QUERY
            SELECT d.id FROM scene_dialogues d
            WHERE search_tokens(d.dialogue_text) @> keys
              AND strpos(search_normalise(d.dialogue_text), needle) > 0
            UNION
            SELECT d.id FROM scene_dialogues d
            WHERE search_tokens(d.subtitle_text) @> keys
              AND strpos(search_normalise(d.subtitle_text), needle) > 0;
    END IF;
END
$$;

CREATE FUNCTION search_scene_ids(q TEXT) RETURNS SETOF UUID
LANGUAGE plpgsql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    needle TEXT := search_normalise(q);
    keys TEXT[] := search_query_tokens(q);
BEGIN
    IF char_length(needle) <= 2 THEN
        RETURN QUERY SELECT s.id FROM scenes s WHERE search_tokens(s.description) @> keys;
    ELSE
        RETURN QUERY
            SELECT s.id FROM scenes s
            WHERE search_tokens(s.description) @> keys
              AND strpos(search_normalise(s.description), needle) > 0;
    END IF;
END
$$;
