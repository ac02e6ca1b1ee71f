-- Every overlapping pair of scenes of a movie, materialised (read_models/overlaps.py reads it).
-- Probing each scene's later partners at read time cost ~4 ms of server time per page of 1,000
-- pairs as a viewer, ~40 ms for the 10 pages of 10,000 overlapping scenes: the read API's
-- keyset walk of every pair is now an index scan of this table's primary key instead.
--  * A pair is stored once: "first" is the scene that comes first by (start, id), "second" the
--    other one, as the API returns them; ranges are half-open, so scenes that only touch are no
--    pair. The two scenes' ranges and creators are copied: the reads never join scenes, and the
--    row-level security policies below need the creators.
--  * Kept by triggers on scenes, in the transaction that writes the scenes, on every path that
--    writes them (the projector's one-by-one and batch apply, a rebuild's shadow schema, bulk
--    loads, deletes cascading from elsewhere): new scenes add their pairs (one set-based insert
--    per statement, from its transition table); a change of a scene's movie, range or creator
--    replaces its pairs (a row trigger, so only statements setting those columns pay for it:
--    transition tables cannot be combined with a column list); deleted scenes take theirs along.
--  * No foreign keys to scenes: the delete trigger removes a deleted scene's pairs, and foreign
--    keys add two row-level integrity checks (each locking the scene row) per pair written plus
--    two single-column indexes for the cascades: 500 new scenes of movies of 200 (~1,800 pairs)
--    took 86-107 ms of trigger time with them, 37-61 ms without. The data consistency check
--    (infra/ops.py) compares the table with the pairs computed from scenes.
--  * Writers of one movie's scenes are serialised on a transaction advisory lock per movie (and
--    schema, so a rebuild's shadow does not wait on the live schema) taken before the pairs are
--    computed: two transactions adding overlapping scenes to the same movie at the same time
--    would otherwise each miss the pair (neither sees the other's uncommitted scene).
CREATE TABLE scene_overlaps (
    movie_id UUID NOT NULL,
    first_scene_id UUID NOT NULL,
    first_start INTEGER NOT NULL,
    first_end INTEGER NOT NULL,
    first_created_by UUID,
    second_scene_id UUID NOT NULL,
    second_start INTEGER NOT NULL,
    second_end INTEGER NOT NULL,
    second_created_by UUID,
    -- The API's keyset order (movie, first id, second id). Every other column is INCLUDEd, so
    -- that a page is an index-only scan under every role (the policies below read the movie and
    -- the creators): the heap is only visited for pages the visibility map does not mark
    -- all-visible, as autovacuum keeps them.
    PRIMARY KEY (movie_id, first_scene_id, second_scene_id)
        INCLUDE (first_start, first_end, second_start, second_end, first_created_by, second_created_by),
    CONSTRAINT scene_overlaps_in_order CHECK ((first_start, first_scene_id) < (second_start, second_scene_id)),
    CONSTRAINT scene_overlaps_overlap CHECK (second_start < first_end)
);

-- A scene's pairs as the second scene (as the first, the primary key serves).
CREATE INDEX idx_scene_overlaps_second ON scene_overlaps (movie_id, second_scene_id);

-- Serialise the writers of these movies' pairs until the transaction ends (see above).
CREATE FUNCTION scene_overlaps_lock(p_movie_ids UUID[]) RETURNS VOID
LANGUAGE plpgsql
AS $$
BEGIN
    -- In one order, so that two statements locking several movies cannot deadlock each other.
    PERFORM pg_advisory_xact_lock(hashtextextended(current_schema() || '.scene_overlaps.' || m::TEXT, 0))
    FROM (SELECT DISTINCT unnest(p_movie_ids) AS m ORDER BY 1) movies;
END
$$;

-- The pairs are found the way the read API found them before this table: each scene's later
-- partners (starting at or after it by (start, id), before it ends) are a range probe of
-- idx_scenes_movie_start_covering (0012). A scene that joins a movie also pairs with the earlier
-- scenes still running when it starts: a probe of the GiST index idx_scenes_time_overlap (0001),
-- or of the covering index's earlier starts (the planner picks by the movie's size; a rebuild
-- defers the GiST index). Plans that hold whatever the statistics say (scenes is often far
-- larger or smaller than its last ANALYZE saw: a fresh rebuild, a bulk load, a refill): each
-- probe is a LATERAL ... OFFSET 0 subquery, so one index probe per new scene rather than a hash
-- join over every scene of the table; the new scenes' earlier partners that are new too (their
-- own probe pairs them) are dropped by NOT IN over the transition table, whose row count the
-- planner knows, so it is hashed rather than scanned once per candidate (a hash must fit in
-- work_mem times hash_mem_multiplier, or NOT IN falls back to a scan per candidate: work_mem
-- is 64 MB here, room for the ids of millions of scenes inserted by one statement; the hash is
-- only as large as the statement's scenes). The estimated cost of a bulk load's statement reaches the
-- JIT thresholds, and compiling it took longer (1.1 s for 10,000 scenes) than running it: no JIT.
-- ON CONFLICT DO NOTHING instead of NOT IN was no faster for 500 scenes and slower for 10,000
-- (speculative insertion of every pair).
CREATE FUNCTION scene_overlaps_on_insert() RETURNS TRIGGER
LANGUAGE plpgsql
SET jit = off
SET work_mem = '64MB'
AS $$
BEGIN
    PERFORM scene_overlaps_lock(ARRAY(SELECT movie_id FROM inserted_scenes));
    INSERT INTO scene_overlaps (
        movie_id, first_scene_id, first_start, first_end, first_created_by,
        second_scene_id, second_start, second_end, second_created_by
    )
    SELECT t.movie_id, t.id, t.start_time_seconds, t.end_time_seconds, t.created_by,
           s.id, s.start_time_seconds, s.end_time_seconds, s.created_by
    FROM inserted_scenes t
    CROSS JOIN LATERAL (
        SELECT s.id, s.start_time_seconds, s.end_time_seconds, s.created_by
        FROM scenes s
        WHERE s.movie_id = t.movie_id
          AND s.start_time_seconds >= t.start_time_seconds
          AND s.start_time_seconds < t.end_time_seconds
          AND (s.start_time_seconds, s.id) > (t.start_time_seconds, t.id)
        OFFSET 0
    ) s
    UNION ALL
    SELECT t.movie_id, s.id, s.start_time_seconds, s.end_time_seconds, s.created_by,
           t.id, t.start_time_seconds, t.end_time_seconds, t.created_by
    FROM inserted_scenes t
    CROSS JOIN LATERAL (
        SELECT s.id, s.start_time_seconds, s.end_time_seconds, s.created_by
        FROM scenes s
        WHERE s.movie_id = t.movie_id
          AND int4range(s.start_time_seconds, s.end_time_seconds)
              && int4range(t.start_time_seconds, t.start_time_seconds + 1)
          AND s.start_time_seconds <= t.start_time_seconds
          AND s.end_time_seconds > t.start_time_seconds
          AND (s.start_time_seconds, s.id) < (t.start_time_seconds, t.id)
        OFFSET 0
    ) s
    WHERE s.id NOT IN (SELECT id FROM inserted_scenes);
    RETURN NULL;
END
$$;

-- A scene's movie, range or creator changed: its pairs are recomputed.
CREATE FUNCTION scene_overlaps_on_update() RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM scene_overlaps_lock(ARRAY[OLD.movie_id, NEW.movie_id]);
    DELETE FROM scene_overlaps
    WHERE movie_id = OLD.movie_id AND (first_scene_id = OLD.id OR second_scene_id = OLD.id);
    INSERT INTO scene_overlaps (
        movie_id, first_scene_id, first_start, first_end, first_created_by,
        second_scene_id, second_start, second_end, second_created_by
    )
    SELECT NEW.movie_id, NEW.id, NEW.start_time_seconds, NEW.end_time_seconds, NEW.created_by,
           s.id, s.start_time_seconds, s.end_time_seconds, s.created_by
    FROM scenes s
    WHERE s.movie_id = NEW.movie_id
      AND s.start_time_seconds >= NEW.start_time_seconds
      AND s.start_time_seconds < NEW.end_time_seconds
      AND (s.start_time_seconds, s.id) > (NEW.start_time_seconds, NEW.id)
    UNION ALL
    SELECT NEW.movie_id, s.id, s.start_time_seconds, s.end_time_seconds, s.created_by,
           NEW.id, NEW.start_time_seconds, NEW.end_time_seconds, NEW.created_by
    FROM scenes s
    WHERE s.movie_id = NEW.movie_id
      AND int4range(s.start_time_seconds, s.end_time_seconds)
          && int4range(NEW.start_time_seconds, NEW.start_time_seconds + 1)
      AND s.start_time_seconds <= NEW.start_time_seconds
      AND s.end_time_seconds > NEW.start_time_seconds
      AND (s.start_time_seconds, s.id) < (NEW.start_time_seconds, NEW.id);
    RETURN NULL;
END
$$;

CREATE FUNCTION scene_overlaps_on_delete() RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM scene_overlaps_lock(ARRAY(SELECT movie_id FROM deleted_scenes));
    DELETE FROM scene_overlaps o
    USING deleted_scenes d
    WHERE o.movie_id = d.movie_id
      AND (o.first_scene_id = d.id OR o.second_scene_id = d.id);
    RETURN NULL;
END
$$;

CREATE TRIGGER scene_overlaps_on_insert
AFTER INSERT ON scenes
REFERENCING NEW TABLE AS inserted_scenes
FOR EACH STATEMENT EXECUTE FUNCTION scene_overlaps_on_insert();

-- Every apply that only touches a scene's version or details leaves these columns alone; an
-- upsert setting them to the same values is filtered out by the WHEN clause.
CREATE TRIGGER scene_overlaps_on_update
AFTER UPDATE OF movie_id, start_time_seconds, end_time_seconds, created_by ON scenes
FOR EACH ROW WHEN (
    OLD.movie_id IS DISTINCT FROM NEW.movie_id
    OR OLD.start_time_seconds IS DISTINCT FROM NEW.start_time_seconds
    OR OLD.end_time_seconds IS DISTINCT FROM NEW.end_time_seconds
    OR OLD.created_by IS DISTINCT FROM NEW.created_by
)
EXECUTE FUNCTION scene_overlaps_on_update();

CREATE TRIGGER scene_overlaps_on_delete
AFTER DELETE ON scenes
REFERENCING OLD TABLE AS deleted_scenes
FOR EACH STATEMENT EXECUTE FUNCTION scene_overlaps_on_delete();

-- The scenes already projected: every scene's later partners.
INSERT INTO scene_overlaps (
    movie_id, first_scene_id, first_start, first_end, first_created_by,
    second_scene_id, second_start, second_end, second_created_by
)
SELECT t.movie_id, t.id, t.start_time_seconds, t.end_time_seconds, t.created_by,
       s.id, s.start_time_seconds, s.end_time_seconds, s.created_by
FROM scenes t
JOIN scenes s
  ON s.movie_id = t.movie_id
 AND s.start_time_seconds >= t.start_time_seconds
 AND s.start_time_seconds < t.end_time_seconds
 AND (s.start_time_seconds, s.id) > (t.start_time_seconds, t.id);

-- Row-level security: a pair is visible when both its scenes are (0006). Both share the movie,
-- so for viewers and contributors that is "the movie is public"; for professionals "public, or
-- both scenes their own"; admins see every pair. Only SELECT is granted (projectors own it).
GRANT SELECT ON scene_overlaps
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

ALTER TABLE scene_overlaps ENABLE ROW LEVEL SECURITY;

CREATE POLICY scene_overlaps_public_movies ON scene_overlaps
FOR SELECT TO sceneledger_viewer, sceneledger_contributor
USING (movie_id IN (SELECT id FROM external_movies_cache WHERE is_public));

CREATE POLICY scene_overlaps_professional ON scene_overlaps
FOR SELECT TO sceneledger_professional
USING (
    (first_created_by = app_current_user_id() AND second_created_by = app_current_user_id())
    OR movie_id IN (SELECT id FROM external_movies_cache WHERE is_public)
);

CREATE POLICY scene_overlaps_admin ON scene_overlaps
FOR SELECT TO sceneledger_admin
USING (TRUE);
