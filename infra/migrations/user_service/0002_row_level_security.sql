-- Row-level security on the User service's read model: a watch list and a user's scene
-- interactions are visible to their owner only, and to admins (support).
-- Only SELECT is granted, and only on these two tables (users, with the password hashes, is
-- never read under an application role). The projectors write as the tables' owner, to whom
-- policies do not apply (no FORCE ROW LEVEL SECURITY on purpose).

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

GRANT SELECT ON watch_lists, user_scene_interactions
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

ALTER TABLE watch_lists ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_scene_interactions ENABLE ROW LEVEL SECURITY;

CREATE POLICY watch_lists_own ON watch_lists
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional
USING (user_id = app_current_user_id());

CREATE POLICY watch_lists_admin ON watch_lists
FOR SELECT TO sceneledger_admin
USING (TRUE);

CREATE POLICY user_scene_interactions_own ON user_scene_interactions
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional
USING (user_id = app_current_user_id());

CREATE POLICY user_scene_interactions_admin ON user_scene_interactions
FOR SELECT TO sceneledger_admin
USING (TRUE);
