-- Opaque bytes attached to a session on the team server: what agent
-- frameworks persist that is not a conversation event (LangGraph checkpoints
-- and pending writes), the twin of the local store's `session_blobs`
-- (SQLite migration 0008).
--
-- `namespace` groups one kind of blob, `key` orders them inside it, `meta` is
-- small JSON the adapter filters on (validated, stored as the exact text
-- sent), `data` the payload as raw bytes (bytea, never base64 text). Both
-- text keys use the "C" collation: ordering and prefix ranges compare code
-- points, exactly as SQLite does, whatever the database's locale. Owned and
-- guarded like every other convstore table (0004): forced row-level security
-- on `owner`; deleted with the session.
CREATE TABLE session_blobs (
    sid        bigint NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    owner      text   NOT NULL DEFAULT current_user,
    namespace  text   COLLATE "C" NOT NULL,
    key        text   COLLATE "C" NOT NULL,
    meta       text   NOT NULL CONSTRAINT session_blobs_json CHECK (meta::json IS NOT NULL),
    data       bytea  NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (sid, namespace, key)
);

ALTER TABLE session_blobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE session_blobs FORCE ROW LEVEL SECURITY;
CREATE POLICY session_blobs_owner ON session_blobs
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));
REVOKE ALL ON session_blobs FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON session_blobs TO PUBLIC;
