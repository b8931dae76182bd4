-- Per-session key/value metadata (title, model, client settings …), as the
-- reference added after sessions. Clustered by session so a session's
-- metadata is one contiguous read; deleted with its session.
CREATE TABLE session_metadata (
    sid        INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    key        TEXT    NOT NULL,
    value      TEXT    NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (sid, key)
) STRICT, WITHOUT ROWID;
