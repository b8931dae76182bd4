-- The one-statement append (0006) without a temporary copy of the event.
--
-- 0006's trigger inserted the event with INSERT ... SELECT ... FROM sessions.
-- SQLite runs an INSERT ... SELECT through a temporary table whenever the
-- target table has triggers (event_search_pending, AFTER INSERT, records the
-- search watermark) or the SELECT reads the target (the parent check did):
-- every append wrote its row into an in-memory B-tree and read it back before
-- the real insert -- for an 8 KB event, overflow pages and all. Measured
-- (benchmarks/append_profile.py, interleaved with the floor): 12 µs of a 70 µs
-- append at 8 KB, 8 µs at 200 B.
--
-- Here the event goes in with INSERT ... VALUES, which SQLite streams into
-- the table: its key comes from a scalar subquery on the session, and when
-- the session cannot take it (unknown, archived, its updated_at ahead of the
-- caller's clock) the key is RAISE(ABORT) instead. The parent check runs right
-- after the insert, on the key just written (last_insert_rowid(), which inside
-- a trigger is the row this trigger inserted): the parent must be another
-- event of the same session. Any failure aborts the whole statement with
-- nothing written, as before, and the store takes its careful path, which
-- says why. Same checks, same effects, same view: nothing else changes.
--
-- The second head move (a new second: updated_at and its indexes change)
-- finds its row only when the first one changed nothing: the id it looks up
-- is NULL otherwise, so the common case skips the index probe.
DROP TRIGGER IF EXISTS event_append_one;

CREATE TRIGGER event_append_one INSTEAD OF INSERT ON event_append BEGIN
    INSERT INTO session_events
        (rid, id, parent_id, invocation_id, event_type, event_data, created_at)
    VALUES (
        coalesce(
            (SELECT sid * 4294967296 + event_count + 1 FROM sessions
             WHERE id = new.session_id AND archived_at IS NULL
               AND updated_at <= new.created_at),
            RAISE(ABORT, 'convstore: not appended')),
        new.event_id, new.parent_id, new.invocation_id, new.event_type, new.event_data,
        new.created_at);
    SELECT RAISE(ABORT, 'convstore: not appended')
    WHERE new.parent_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM session_events p
        WHERE p.id = new.parent_id
          AND p.rid >> 32 = last_insert_rowid() >> 32
          AND p.rid <> last_insert_rowid());
    -- updated_at is only written when the second changed: most appends of a
    -- streamed answer land in the same second, and skipping it spares the
    -- session's three index entries.
    UPDATE sessions SET head_id = new.event_id, event_count = event_count + 1
    WHERE id = new.session_id AND updated_at = new.created_at;
    UPDATE sessions
    SET head_id = new.event_id, event_count = event_count + 1, updated_at = new.created_at
    WHERE id = (SELECT new.session_id WHERE changes() = 0);
END;
