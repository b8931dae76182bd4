-- Which clients this schema still serves (SPEC 6.1).
--
-- `oldest_client` is the lowest client schema version (the highest migration
-- a client knows) that still works against this database. Additive
-- migrations leave it alone, so clients one release behind keep working; a
-- migration that older code cannot live with raises it (the runner reads a
-- `-- convstore: oldest-client N` line in the migration file). A client below
-- it gets a MigrationError telling it to upgrade.
--
-- 5 is this release: 0004 (row-level security) changed what a connection may
-- see, so clients that predate it are not served.
CREATE TABLE convstore_compat (
    one           boolean PRIMARY KEY DEFAULT true CONSTRAINT convstore_compat_one CHECK (one),
    oldest_client integer NOT NULL
);
INSERT INTO convstore_compat (oldest_client) VALUES (5);

ALTER TABLE convstore_compat ENABLE ROW LEVEL SECURITY;
ALTER TABLE convstore_compat FORCE ROW LEVEL SECURITY;
CREATE POLICY convstore_compat_all ON convstore_compat USING (true) WITH CHECK (true);
REVOKE ALL ON convstore_compat FROM PUBLIC;
GRANT SELECT ON convstore_compat TO PUBLIC;
