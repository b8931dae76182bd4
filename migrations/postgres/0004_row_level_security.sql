-- The server enforces the owner (SPEC 6.1): row-level security, forced so the
-- table's owner is no exception, on every convstore table.
--
-- A row is visible and writable when its `owner` is the role the connection
-- is logged in as (current_user), or when that role is a member of the
-- NOLOGIN role `convstore_service` (a trusted backend acting for many end
-- users; `GRANT convstore_service TO backend_role` is the whole privilege).
-- `convstore server migrate` creates that role when it may; until it exists
-- nobody acts for others. Superusers and BYPASSRLS roles bypass RLS, as
-- always in PostgreSQL: never run applications as one.
--
-- Application roles need no DDL: any role with CONNECT on the database may
-- read and write its own rows (SELECT/INSERT/UPDATE/DELETE, never TRUNCATE,
-- which ignores row-level security); the bookkeeping table is read-only.

-- True when current_user may act for other owners. Looked up by oid, so a
-- missing `convstore_service` role means "no" rather than an error.
CREATE FUNCTION convstore_acts_for_others() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog
    AS $$
        SELECT EXISTS (
            SELECT 1 FROM pg_catalog.pg_roles r
            WHERE r.rolname = 'convstore_service'
              AND pg_catalog.pg_has_role(current_user, r.oid, 'MEMBER')
        )
    $$;

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
-- `(SELECT ...)` makes the membership test an InitPlan: evaluated once per
-- statement, not once per row; the owner indexes still serve the filter.
CREATE POLICY sessions_owner ON sessions
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));

ALTER TABLE session_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_events FORCE ROW LEVEL SECURITY;
CREATE POLICY session_events_owner ON session_events
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));

ALTER TABLE session_metadata ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_metadata FORCE ROW LEVEL SECURITY;
CREATE POLICY session_metadata_owner ON session_metadata
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));

-- New rows belong to the role that writes them unless a service says otherwise.
ALTER TABLE sessions ALTER COLUMN owner SET DEFAULT current_user;
ALTER TABLE session_events ALTER COLUMN owner SET DEFAULT current_user;
ALTER TABLE session_metadata ALTER COLUMN owner SET DEFAULT current_user;

-- The bookkeeping: everyone reads it (clients check the schema version),
-- only its owner (the role running `convstore server migrate`) writes it:
-- privileges decide, the policy lets every row through.
ALTER TABLE convstore_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE convstore_migrations FORCE ROW LEVEL SECURITY;
CREATE POLICY convstore_migrations_all ON convstore_migrations USING (true) WITH CHECK (true);

REVOKE ALL ON sessions, session_events, session_metadata, convstore_migrations FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions, session_events, session_metadata TO PUBLIC;
GRANT SELECT ON convstore_migrations TO PUBLIC;
GRANT EXECUTE ON FUNCTION convstore_acts_for_others() TO PUBLIC;
