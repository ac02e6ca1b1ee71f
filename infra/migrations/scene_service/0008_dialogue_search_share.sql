-- Dialogue search pages that stop at LIMIT for frequent terms (see read_models/text_search.py).
-- search_dialogue_ids() (0005) returns every matching line, which the page then joins and sorts:
-- fine for rare terms, but 好き matches ~10% of the lines. For such terms the page walks the lines
-- in page order (scenes by movie and start, then each scene's lines) with the exact strpos test
-- and stops after LIMIT hits. The choice needs the term's share of the lines before the query
-- runs; this function reads it from the statistics ANALYZE keeps for the token indexes.
--  * most_common_elems of an array expression index holds the frequent keys with their share of
--    the rows (default statistics target 100: the ~1,000 most frequent keys); a key missing from
--    it is rarer than the least frequent one listed, and counts as 0 here (rare: the index path).
--  * A text containing the query contains each of its keys: the least frequent key bounds the
--    share (text and subtitle added up, an upper bound of the share of lines matching either).
--    A phrase whose keys are all frequent may itself be rare; the walk then reads more lines
--    than the page needs (bounded by the table), see the module's notes.
--  * SECURITY DEFINER: pg_stats shows the index statistics to the tables' owner only. It
--    returns figures about the whole table, nothing about a row.
--  * It also returns the table's estimated row count (pg_class.reltuples, kept by ANALYZE and
--    VACUUM): the index path's cost grows with share x lines, the walk's with page / share.
CREATE FUNCTION search_dialogue_share(q TEXT, OUT share DOUBLE PRECISION, OUT lines DOUBLE PRECISION)
LANGUAGE sql STABLE STRICT SECURITY DEFINER SET search_path = public, pg_temp
AS $$
    SELECT
        coalesce(min(per_key.share), 0),
        (SELECT greatest(reltuples, 0) FROM pg_class WHERE oid = 'scene_dialogues'::regclass)
    FROM (
        SELECT k.key, sum(coalesce(m.freq, 0)) AS share
        FROM unnest(search_query_tokens(q)) AS k(key)
        LEFT JOIN (
            SELECT e.elem, e.freq
            FROM pg_stats s
            CROSS JOIN LATERAL unnest(s.most_common_elems::TEXT::TEXT[], s.most_common_elem_freqs)
                AS e(elem, freq)
            WHERE s.schemaname = current_schema()
              AND s.tablename IN ('idx_scene_dialogues_text_tokens', 'idx_scene_dialogues_subtitle_tokens')
        ) AS m ON m.elem = k.key
        GROUP BY k.key
    ) AS per_key
$$;

-- The lines' policy (0006) as a correlated EXISTS instead of "scene_id IN (SELECT id FROM
-- scenes)": the same rows (scene_id is NOT NULL), but the IN form is planned as a subplan
-- materialising every visible scene and scanned again for each line once the scenes outgrow
-- work_mem (a page of 好き under RLS ran over a minute at 1M lines); EXISTS probes scenes_pkey
-- per line, and the scenes' own policies still apply inside it.
ALTER POLICY scene_dialogues_follow_scene ON scene_dialogues
USING (EXISTS (SELECT FROM scenes s WHERE s.id = scene_dialogues.scene_id));
