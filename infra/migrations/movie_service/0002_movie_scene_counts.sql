-- movies.total_scenes_count from a count kept per movie, instead of counting movie_scene_index.
--
-- Every batch of scene events recomputed the figure of each movie it touched with count(*)
-- over the movie's index rows: a cost growing with the movie, paid once per batch, so a
-- backlog cost its square (in a 100,000-scene live run, 0 ms a batch at the start, 64 ms at
-- the end). The count is kept here instead, by statement triggers on the index itself: each
-- statement that writes movie_scene_index adds what it inserted and takes away what it
-- deleted, per movie, from its transition tables. Whoever writes the index (an apply
-- function, a targeted replay's delete) keeps the count right, in the same transaction.
--
-- A movie's row is here exactly when it has index rows (a count that falls to 0 is deleted),
-- so the table is the same function of the index however the index got there: a rebuild
-- and the live read model compare equal.
CREATE TABLE movie_scene_counts (
    movie_id UUID PRIMARY KEY,
    scenes INTEGER NOT NULL,

    CONSTRAINT valid_scenes CHECK (scenes >= 0)
);

INSERT INTO movie_scene_counts (movie_id, scenes)
SELECT movie_id, count(*) FROM movie_scene_index GROUP BY movie_id;

CREATE FUNCTION movie_scene_counts_follow_index() RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
    -- Each branch names only the transition tables its events have (plpgsql plans a statement
    -- when it first runs it). An update (a scene's row upserted again, perhaps with another
    -- movie) adds first, so no count goes below zero on the way.
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO movie_scene_counts AS c (movie_id, scenes)
        SELECT movie_id, count(*) FROM added GROUP BY movie_id
        ON CONFLICT (movie_id) DO UPDATE SET scenes = c.scenes + EXCLUDED.scenes;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE movie_scene_counts c SET scenes = c.scenes - r.n
        FROM (SELECT movie_id, count(*) AS n FROM removed GROUP BY movie_id) r
        WHERE c.movie_id = r.movie_id;
        DELETE FROM movie_scene_counts WHERE scenes = 0 AND movie_id IN (SELECT movie_id FROM removed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER movie_scene_counts_on_insert
    AFTER INSERT ON movie_scene_index REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION movie_scene_counts_follow_index();
CREATE TRIGGER movie_scene_counts_on_update
    AFTER UPDATE ON movie_scene_index REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION movie_scene_counts_follow_index();
CREATE TRIGGER movie_scene_counts_on_delete
    AFTER DELETE ON movie_scene_index REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION movie_scene_counts_follow_index();
