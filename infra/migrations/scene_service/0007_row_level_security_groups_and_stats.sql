-- Row-level security on the rest of the Scene service's read model, so that no read of the API
-- shows anything about a scene its caller may not see (0006 covers scenes, cast and lines):
--  * parallel_scene_members follow their scene, like cast and lines;
--  * a parallel group is visible with its movie (a public one), to admins, and to a
--    professional who can see one of its member scenes (their own scene of a private movie);
--  * movie_scene_stats counts every scene of a movie, hidden ones included: a private movie's
--    figures are shown to admins only (a professional's own scenes are not all its scenes).
-- A movie not in external_movies_cache yet counts as not public (fail closed), as in 0006.
-- Only SELECT is granted; the projectors write as the tables' owner, to whom policies do not apply.

GRANT SELECT ON parallel_scene_groups, parallel_scene_members, movie_scene_stats
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

ALTER TABLE parallel_scene_groups ENABLE ROW LEVEL SECURITY;
ALTER TABLE parallel_scene_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE movie_scene_stats ENABLE ROW LEVEL SECURITY;

CREATE POLICY parallel_scene_members_follow_scene ON parallel_scene_members
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin
USING (scene_id IN (SELECT id FROM scenes));

CREATE POLICY parallel_scene_groups_public_movies ON parallel_scene_groups
FOR SELECT TO sceneledger_viewer, sceneledger_contributor
USING (movie_id IN (SELECT id FROM external_movies_cache WHERE is_public));

-- The members subquery is itself filtered by the members' and the scenes' policies.
CREATE POLICY parallel_scene_groups_professional ON parallel_scene_groups
FOR SELECT TO sceneledger_professional
USING (
    movie_id IN (SELECT id FROM external_movies_cache WHERE is_public)
    OR id IN (SELECT group_id FROM parallel_scene_members)
);

CREATE POLICY parallel_scene_groups_admin ON parallel_scene_groups
FOR SELECT TO sceneledger_admin
USING (TRUE);

CREATE POLICY movie_scene_stats_public_movies ON movie_scene_stats
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional
USING (movie_id IN (SELECT id FROM external_movies_cache WHERE is_public));

CREATE POLICY movie_scene_stats_admin ON movie_scene_stats
FOR SELECT TO sceneledger_admin
USING (TRUE);
