-- idx_user_movie_scene_index_movie served the recount of watch_lists.total_scenes_count over a
-- movie's index rows. Since 0004 that figure reads user_movie_scene_counts, kept by statement
-- triggers from the transition tables, and every statement on user_movie_scene_index finds its
-- rows by scene_id (the primary key): nothing reads the index by movie any more, and every
-- projected scene paid for keeping it up.
DROP INDEX idx_user_movie_scene_index_movie;
