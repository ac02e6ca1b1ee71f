-- Row-level security on the Review service's read model (the design's "セキュリティ設計"):
-- a review is visible when public, and a private one only to its author, whatever the role
-- (an admin reads private reviews only through the event store, not the API).
-- Only SELECT is granted: the API never writes the read model. The projectors write as the
-- tables' owner, to whom policies do not apply (no FORCE ROW LEVEL SECURITY on purpose).

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

GRANT SELECT ON reviews
    TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin;

ALTER TABLE reviews ENABLE ROW LEVEL SECURITY;

CREATE POLICY reviews_public_or_own ON reviews
FOR SELECT TO sceneledger_viewer, sceneledger_contributor, sceneledger_professional, sceneledger_admin
USING (is_public = TRUE OR user_id = app_current_user_id());
