-- The dialogue search's walk (0011: lines read in page order, each tested, until the page is
-- full) as an index-only scan. At 1M lines a rare term's page (私に, 0.7 % of the lines) reads
-- ~8,600 lines; each cost a random heap read for its text (8,700 buffers, 9-16 ms of the 12-18 ms
-- a viewer's search took), because heap order has nothing to do with page order. The page-order
-- B-tree now carries what the walk tests, so it reads ~160 index pages instead (2-3 ms).
--  * INCLUDE holds the text and subtitle, their stored normalised forms (the walk tests
--    coalesce(normalised, text), 0011) and the language and memorable flag (the optional
--    filters), so that no filter needs the heap. movie_id is a key (public_only, the movie filter).
--  * A B-tree entry must fit in a third of a page (2,704 bytes), and a line's text may be 10,000
--    characters: the covering index holds the lines whose four texts add up to at most 2,000
--    bytes (every seeded line; a line of film dialogue is far shorter), and a plain index in
--    page order holds the longer ones. The two predicates are complements (the sum is never
--    NULL: dialogue_text is NOT NULL, the rest coalesced), so every line is in exactly one.
--  * The walk reads both in page order and merges them (search_dialogue_page_ids below). The
--    covering index keeps the name of 0011's index: the benchmark's bulk load and the replay's
--    deferred indexes (infra/replay.py) refer to it by name.
--  * Pages must be all-visible for the scan to skip the heap (autovacuum keeps them so, the
--    bulk load and replay vacuum); a line on a page that is not is read from the heap, as before.

DROP INDEX idx_scene_dialogues_page_order;

CREATE INDEX idx_scene_dialogues_page_order
ON scene_dialogues (movie_id, scene_start_time_seconds, start_time_offset, id)
INCLUDE (
    dialogue_text, dialogue_text_normalised, subtitle_text, subtitle_text_normalised,
    language, is_memorable_quote
)
WHERE octet_length(dialogue_text) + coalesce(octet_length(dialogue_text_normalised), 0)
    + coalesce(octet_length(subtitle_text), 0) + coalesce(octet_length(subtitle_text_normalised), 0)
    <= 2000;

CREATE INDEX idx_scene_dialogues_page_order_long
ON scene_dialogues (movie_id, scene_start_time_seconds, start_time_offset, id)
WHERE octet_length(dialogue_text) + coalesce(octet_length(dialogue_text_normalised), 0)
    + coalesce(octet_length(subtitle_text), 0) + coalesce(octet_length(subtitle_text_normalised), 0)
    > 2000;

-- As in 0011, with the walk split over the two indexes above. Each part is its own ordered scan
-- with its own LIMIT, merged after: written as one ordered UNION ALL, PostgreSQL 15 plans a full
-- scan and a sort (it finds no merged ordered path for these branches), ~300 ms at 1M lines.
-- The predicates are written exactly as the indexes' so that the planner can match them.
CREATE OR REPLACE FUNCTION search_dialogue_page_ids(
    q TEXT, walk BOOLEAN, movie UUID, lang TEXT, memorable BOOLEAN, public_only BOOLEAN, n INTEGER
) RETURNS SETOF UUID
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE
    needle TEXT := search_normalise(q);
    keys TEXT[] := search_query_tokens(q);
    filters TEXT := '';
    text_match TEXT;
    subtitle_match TEXT;
    walk_part TEXT;
    covered_bytes CONSTANT TEXT :=
        'octet_length(d.dialogue_text) + coalesce(octet_length(d.dialogue_text_normalised), 0)'
        ' + coalesce(octet_length(d.subtitle_text), 0) + coalesce(octet_length(d.subtitle_text_normalised), 0)';
BEGIN
    IF q IS NULL OR n IS NULL OR n <= 0 THEN
        RETURN;
    END IF;
    IF movie IS NOT NULL THEN
        filters := filters || ' AND d.movie_id = $3';
    END IF;
    IF lang IS NOT NULL THEN
        filters := filters || ' AND d.language = $4';
    END IF;
    IF memorable IS TRUE THEN
        filters := filters || ' AND d.is_memorable_quote IS TRUE';
    ELSIF memorable IS FALSE THEN
        filters := filters || ' AND d.is_memorable_quote IS NOT TRUE';
    END IF;
    IF public_only THEN
        filters := filters || ' AND d.movie_id IN (SELECT c.id FROM external_movies_cache c WHERE c.is_public)';
    END IF;
    IF walk THEN
        walk_part :=
            'SELECT d.id, d.movie_id, d.scene_start_time_seconds, d.start_time_offset'
            ' FROM scene_dialogues d'
            ' WHERE (strpos(coalesce(d.dialogue_text_normalised, d.dialogue_text), $1) > 0'
            '     OR strpos(coalesce(d.subtitle_text_normalised, d.subtitle_text), $1) > 0)' || filters;
        RETURN QUERY EXECUTE
            'SELECT w.id FROM ('
            '(' || walk_part || ' AND ' || covered_bytes || ' <= 2000'
            ' ORDER BY d.movie_id, d.scene_start_time_seconds, d.start_time_offset, d.id LIMIT $5)'
            ' UNION ALL '
            '(' || walk_part || ' AND ' || covered_bytes || ' > 2000'
            ' ORDER BY d.movie_id, d.scene_start_time_seconds, d.start_time_offset, d.id LIMIT $5)'
            ') w ORDER BY w.movie_id, w.scene_start_time_seconds, w.start_time_offset, w.id LIMIT $5'
            USING needle, keys, movie, lang, n;
        RETURN;
    END IF;
    -- A query of 1 or 2 normalised characters is one key, which is exact (see 0005).
    text_match := 'search_tokens(d.dialogue_text) @> $2';
    subtitle_match := 'search_tokens(d.subtitle_text) @> $2';
    IF char_length(needle) > 2 THEN
        text_match := text_match
            || ' AND strpos(coalesce(d.dialogue_text_normalised, d.dialogue_text), $1) > 0';
        subtitle_match := subtitle_match
            || ' AND strpos(coalesce(d.subtitle_text_normalised, d.subtitle_text), $1) > 0';
    END IF;
    RETURN QUERY EXECUTE
        'SELECT m.id FROM ('
        ' SELECT d.id, d.movie_id, d.scene_start_time_seconds, d.start_time_offset'
        ' FROM scene_dialogues d WHERE ' || text_match || filters ||
        ' UNION'
        ' SELECT d.id, d.movie_id, d.scene_start_time_seconds, d.start_time_offset'
        ' FROM scene_dialogues d WHERE ' || subtitle_match || filters ||
        ') m ORDER BY m.movie_id, m.scene_start_time_seconds, m.start_time_offset, m.id LIMIT $5'
        USING needle, keys, movie, lang, n;
END
$$;
