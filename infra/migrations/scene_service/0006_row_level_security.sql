-- Row-level security on the Scene service's read model (the design's "セキュリティ設計"):
--  * viewers and contributors see the scenes of public movies only;
--  * professionals see those and the scenes they created themselves (created_by);
--  * admins see every scene.
-- A scene whose movie is not in external_movies_cache yet (the MovieRegistered may be projected
-- after the SceneCreated) counts as a scene of a non-public movie: hidden until the cache says
-- the movie is public (fail closed), except from its creator when a professional, and admins.
-- Cast and dialogue lines follow their scene: the policies' subquery on scenes is itself
-- filtered by the scenes policies, so a line is visible exactly when its scene is.
-- Only SELECT is granted: the API never writes the read model (commands go through the event
-- store, with role checks there and in the HTTP layer). The projectors write as the tables'
-- owner, to whom policies do not apply (no FORCE ROW LEVEL SECURITY on purpose).

-- The four application roles: cluster-wide NOLOGIN roles the API switches to per request
-- (SET LOCAL ROLE) so that the policies below apply. Every service database, and every test
-- namespace, creates them, so this tolerates their existing already, also when another
-- database's migration creates them at the same moment. The login role running the migrations
-- (the tables' owner, which the API and the projectors use) becomes a member so it may switch.
DO $$
DECLARE
    role_name TEXT;
BEGIN
    FOREACH role_name IN ARRAY ARRAY[
        'sceneledger_viewer', 'sceneledger_contributor', 'sceneledger_professional', 'sceneledger_admin'
    ] LOOP
        BEGIN
            EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
        BEGIN
            EXECUTE format('GRANT %I TO CURRENT_USER', role_name);
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
END $$;

GRANT USAGE ON SCHEMA public
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

-- The acting user as the API set it for the transaction; NULL for an anonymous reader (setting
-- unset or empty), so "user_id = app_current_user_id()" is never true for anonymous requests.
CREATE OR REPLACE FUNCTION app_current_user_id() RETURNS UUID
LANGUAGE sql STABLE AS $$
    SELECT NULLIF(current_setting('app.current_user_id', true), '')::UUID
$$;

GRANT SELECT ON scenes, scene_actors, scene_dialogues, external_movies_cache, external_actors_cache
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

ALTER TABLE scenes ENABLE ROW LEVEL SECURITY;
ALTER TABLE scene_actors ENABLE ROW LEVEL SECURITY;
ALTER TABLE scene_dialogues ENABLE ROW LEVEL SECURITY;

CREATE POLICY scenes_public_movies ON scenes
FOR SELECT TO sceneledger_viewer, sceneledger_contributor
USING (movie_id IN (SELECT id FROM external_movies_cache WHERE is_public));

CREATE POLICY scenes_professional ON scenes
FOR SELECT TO sceneledger_professional
USING (
    created_by = app_current_user_id()
    OR movie_id IN (SELECT id FROM external_movies_cache WHERE is_public)
);

CREATE POLICY scenes_admin ON scenes
FOR SELECT TO sceneledger_admin
USING (TRUE);

CREATE POLICY scene_actors_follow_scene ON scene_actors
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin
USING (scene_id IN (SELECT id FROM scenes));

CREATE POLICY scene_dialogues_follow_scene ON scene_dialogues
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin
USING (scene_id IN (SELECT id FROM scenes));
