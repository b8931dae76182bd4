-- Search work recorded once per write, not once per event.
--
-- 0005 recorded the search watermark with a trigger on every inserted event
-- row: a batch of 1000 events ran the trigger program 1000 times to write one
-- row (the first; the rest hit ON CONFLICT DO NOTHING). Measured on the
-- benchmark's rows, that trigger cost 0.3x the whole physical floor of a bulk
-- insert -- more than SQLite's json_valid CHECK.
--
-- Every write that adds events also raises the session's `event_count` in the
-- same transaction (a new event's key is sid * 2^32 + event_count + 1, so a
-- write that did not would collide with the next append). The watermark is
-- therefore recorded where the count moves: one trigger run per append, per
-- batch, per imported session, whatever the number of events -- and the old
-- count *is* the watermark (every event above it is new). A session created
-- with events already counted (JSONL import writes the header first) is
-- pending from its first event.
--
-- Same table, same catch-up (SEARCH_CATCH_UP), same guarantees: the pending row
-- commits with the events, so a search sees every event whose write returned,
-- and a crash before the catch-up loses nothing. A database whose indexing is
-- off gets no trigger (convstore.sqlite.search, after this file).
DROP TRIGGER IF EXISTS event_search_pending;

CREATE TRIGGER IF NOT EXISTS search_pending_count AFTER UPDATE OF event_count ON sessions
WHEN new.event_count > old.event_count BEGIN
    INSERT INTO search_pending (sid, after_seq) VALUES (new.sid, old.event_count)
    ON CONFLICT (sid) DO NOTHING;
END;

CREATE TRIGGER IF NOT EXISTS search_pending_session AFTER INSERT ON sessions
WHEN new.event_count > 0 BEGIN
    INSERT INTO search_pending (sid, after_seq) VALUES (new.sid, 0)
    ON CONFLICT (sid) DO NOTHING;
END;
