-- watch_lists.total_scenes_count from a count kept per movie, instead of counting
-- user_movie_scene_index: as movie_service 0002 does for movies.total_scenes_count (read
-- its comment), with the same statement triggers on this service's index of the scenes.
CREATE TABLE user_movie_scene_counts (
    movie_id UUID PRIMARY KEY,
    scenes INTEGER NOT NULL,

    CONSTRAINT valid_scenes CHECK (scenes >= 0)
);

INSERT INTO user_movie_scene_counts (movie_id, scenes)
SELECT movie_id, count(*) FROM user_movie_scene_index GROUP BY movie_id;

CREATE FUNCTION user_movie_scene_counts_follow_index() RETURNS TRIGGER
LANGUAGE plpgsql
AS $$
BEGIN
    -- Each branch names only the transition tables its events have (plpgsql plans a statement
    -- when it first runs it). An update (a scene's row upserted again, perhaps with another
    -- movie) adds first, so no count goes below zero on the way.
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO user_movie_scene_counts AS c (movie_id, scenes)
        SELECT movie_id, count(*) FROM added GROUP BY movie_id
        ON CONFLICT (movie_id) DO UPDATE SET scenes = c.scenes + EXCLUDED.scenes;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE user_movie_scene_counts c SET scenes = c.scenes - r.n
        FROM (SELECT movie_id, count(*) AS n FROM removed GROUP BY movie_id) r
        WHERE c.movie_id = r.movie_id;
        DELETE FROM user_movie_scene_counts WHERE scenes = 0 AND movie_id IN (SELECT movie_id FROM removed);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_movie_scene_counts_on_insert
    AFTER INSERT ON user_movie_scene_index REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION user_movie_scene_counts_follow_index();
CREATE TRIGGER user_movie_scene_counts_on_update
    AFTER UPDATE ON user_movie_scene_index REFERENCING OLD TABLE AS removed NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION user_movie_scene_counts_follow_index();
CREATE TRIGGER user_movie_scene_counts_on_delete
    AFTER DELETE ON user_movie_scene_index REFERENCING OLD TABLE AS removed
    FOR EACH STATEMENT EXECUTE FUNCTION user_movie_scene_counts_follow_index();
