-- Opaque bytes attached to a session: what agent frameworks persist that is
-- not a conversation event (LangGraph checkpoints and pending writes, …).
--
-- `namespace` groups one kind of blob ("langgraph.checkpoint:<ns>"), `key`
-- orders them inside it, `meta` is small JSON the adapter filters on, and
-- `data` is the payload as raw bytes (never base64 text). Clustered by
-- session so a thread's blobs are one contiguous read; deleted with the
-- session.
CREATE TABLE session_blobs (
    sid        INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    namespace  TEXT    NOT NULL,
    key        TEXT    NOT NULL,
    meta       TEXT    NOT NULL CHECK (json_valid(meta)),
    data       BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (sid, namespace, key)
) STRICT, WITHOUT ROWID;
