-- Usage totals without reading the ledger (SPEC §9, issue 18), as SQLite's
-- migrations/0009: one row per (session, model, UTC day) with that group's
-- sums, kept by row triggers on usage_ledger in the writer's own
-- transaction. Totals read these rows of the owner (plus, for `since`, the
-- ledger rows of since's own day) through an index, so their cost follows the
-- number of groups, not of records.
--
-- Every way a ledger row comes or goes keeps it: record_usage, import and
-- sync (INSERT); purge and retention (ledger rows cascade from their events
-- or session, and the triggers subtract). Compaction only appends.
-- `costed` counts the rows with a cost, so a group whose costs are all gone
-- is NULL again, like SUM(cost) over no costs. Existing ledgers are summed
-- once, below. Owned and protected like every convstore table.
CREATE TABLE usage_rollup (
    sid           bigint NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    model         text   NOT NULL,
    day           bigint NOT NULL,
    owner         text   NOT NULL DEFAULT current_user,
    input_tokens  numeric NOT NULL,
    output_tokens numeric NOT NULL,
    cached_tokens numeric NOT NULL,
    cost          double precision,
    costed        bigint NOT NULL,
    events        bigint NOT NULL,
    PRIMARY KEY (sid, model, day)
);
CREATE INDEX usage_rollup_by_owner ON usage_rollup (owner, day)
    INCLUDE (sid, model, input_tokens, output_tokens, cached_tokens, cost, events);

INSERT INTO usage_rollup
SELECT sid, model, created_at / 86400, min(owner), sum(input_tokens), sum(output_tokens),
       sum(cached_tokens), sum(cost), count(cost), count(*)
FROM usage_ledger
GROUP BY sid, model, created_at / 86400;

CREATE FUNCTION convstore_usage_rollup_add() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO usage_rollup AS r
    VALUES (NEW.sid, NEW.model, NEW.created_at / 86400, NEW.owner, NEW.input_tokens,
            NEW.output_tokens, NEW.cached_tokens, NEW.cost,
            CASE WHEN NEW.cost IS NULL THEN 0 ELSE 1 END, 1)
    ON CONFLICT (sid, model, day) DO UPDATE SET
        input_tokens = r.input_tokens + excluded.input_tokens,
        output_tokens = r.output_tokens + excluded.output_tokens,
        cached_tokens = r.cached_tokens + excluded.cached_tokens,
        cost = CASE WHEN excluded.cost IS NULL THEN r.cost
                    ELSE coalesce(r.cost, 0) + excluded.cost END,
        costed = r.costed + excluded.costed,
        events = r.events + 1;
    RETURN NULL;
END
$$;

CREATE FUNCTION convstore_usage_rollup_remove() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    UPDATE usage_rollup AS r SET
        input_tokens = r.input_tokens - OLD.input_tokens,
        output_tokens = r.output_tokens - OLD.output_tokens,
        cached_tokens = r.cached_tokens - OLD.cached_tokens,
        cost = CASE WHEN OLD.cost IS NULL THEN r.cost
                    WHEN r.costed = 1 THEN NULL
                    ELSE r.cost - OLD.cost END,
        costed = r.costed - CASE WHEN OLD.cost IS NULL THEN 0 ELSE 1 END,
        events = r.events - 1
    WHERE r.sid = OLD.sid AND r.model = OLD.model AND r.day = OLD.created_at / 86400;
    DELETE FROM usage_rollup AS r
    WHERE r.sid = OLD.sid AND r.model = OLD.model AND r.day = OLD.created_at / 86400
      AND r.events <= 0;
    RETURN NULL;
END
$$;

-- Row triggers: they fire only for ledger rows, never for the many events
-- without one that a purge deletes.
CREATE TRIGGER usage_rollup_add AFTER INSERT ON usage_ledger
    FOR EACH ROW EXECUTE FUNCTION convstore_usage_rollup_add();
CREATE TRIGGER usage_rollup_remove AFTER DELETE ON usage_ledger
    FOR EACH ROW EXECUTE FUNCTION convstore_usage_rollup_remove();
-- convstore never updates a ledger row; a hand-made UPDATE still keeps the sums.
CREATE TRIGGER usage_rollup_change_old AFTER UPDATE ON usage_ledger
    FOR EACH ROW EXECUTE FUNCTION convstore_usage_rollup_remove();
CREATE TRIGGER usage_rollup_change_new AFTER UPDATE ON usage_ledger
    FOR EACH ROW EXECUTE FUNCTION convstore_usage_rollup_add();

-- The trigger functions find the rollup in this schema, whatever the
-- caller's search_path.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION convstore_usage_rollup_add() SET search_path = pg_catalog, %I', current_schema());
    EXECUTE format('ALTER FUNCTION convstore_usage_rollup_remove() SET search_path = pg_catalog, %I', current_schema());
END
$$;

-- The server enforces the owner here too (as 0004 does for the other tables).
ALTER TABLE usage_rollup ENABLE ROW LEVEL SECURITY;
ALTER TABLE usage_rollup FORCE ROW LEVEL SECURITY;
CREATE POLICY usage_rollup_owner ON usage_rollup
    USING (owner = current_user OR (SELECT convstore_acts_for_others()))
    WITH CHECK (owner = current_user OR (SELECT convstore_acts_for_others()));
REVOKE ALL ON usage_rollup FROM PUBLIC;
GRANT SELECT, INSERT, UPDATE, DELETE ON usage_rollup TO PUBLIC;
