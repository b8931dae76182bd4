-- Usage totals without reading the ledger (SPEC §9, issue 18): one row per
-- (session, model, UTC day) holding that group's sums, kept by triggers on
-- usage_ledger in the writer's own transaction. Totals read these few rows
-- (plus, for `since`, the ledger rows of since's own day, an index range), so
-- their cost follows the number of groups, not of records.
--
-- Every way a ledger row comes or goes keeps it: record_usage, import and
-- sync (INSERT), a session deleted by purge, retention or the integrations
-- (the ledger rows cascade and the triggers subtract; the rollup rows cascade
-- too). Compaction only appends, so it never touches either. `costed` counts
-- the rows with a cost, so a group whose costs are all gone is NULL again,
-- like SUM(cost) over no costs. Existing ledgers are summed once, below.
CREATE TABLE usage_rollup (
    sid           INTEGER NOT NULL REFERENCES sessions (sid) ON DELETE CASCADE,
    model         TEXT    NOT NULL,
    day           INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL,
    output_tokens INTEGER NOT NULL,
    cached_tokens INTEGER NOT NULL,
    cost          REAL,
    costed        INTEGER NOT NULL,
    events        INTEGER NOT NULL,
    PRIMARY KEY (sid, model, day)
) STRICT, WITHOUT ROWID;

-- Totals per model or per day are an ordered scan of one of these covering
-- indexes (per session: the primary key), like the ledger's own indexes but
-- a row per group instead of per record.
CREATE INDEX usage_rollup_by_model ON usage_rollup
    (model, day, input_tokens, output_tokens, cached_tokens, cost, events);
CREATE INDEX usage_rollup_by_day ON usage_rollup
    (day, model, input_tokens, output_tokens, cached_tokens, cost, events);

INSERT INTO usage_rollup
SELECT sid, model, created_at / 86400, SUM(input_tokens), SUM(output_tokens),
       SUM(cached_tokens), SUM(cost), COUNT(cost), COUNT(*)
FROM usage_ledger
GROUP BY sid, model, created_at / 86400;

CREATE TRIGGER usage_rollup_add AFTER INSERT ON usage_ledger BEGIN
    INSERT INTO usage_rollup
    VALUES (new.sid, new.model, new.created_at / 86400, new.input_tokens,
            new.output_tokens, new.cached_tokens, new.cost, new.cost IS NOT NULL, 1)
    ON CONFLICT (sid, model, day) DO UPDATE SET
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cached_tokens = cached_tokens + excluded.cached_tokens,
        cost = CASE WHEN excluded.cost IS NULL THEN cost
                    ELSE coalesce(cost, 0) + excluded.cost END,
        costed = costed + excluded.costed,
        events = events + 1;
END;

CREATE TRIGGER usage_rollup_remove AFTER DELETE ON usage_ledger BEGIN
    UPDATE usage_rollup SET
        input_tokens = input_tokens - old.input_tokens,
        output_tokens = output_tokens - old.output_tokens,
        cached_tokens = cached_tokens - old.cached_tokens,
        cost = CASE WHEN old.cost IS NULL THEN cost
                    WHEN costed = 1 THEN NULL
                    ELSE cost - old.cost END,
        costed = costed - (old.cost IS NOT NULL),
        events = events - 1
    WHERE sid = old.sid AND model = old.model AND day = old.created_at / 86400;
    DELETE FROM usage_rollup
    WHERE sid = old.sid AND model = old.model AND day = old.created_at / 86400
      AND events = 0;
END;

-- convstore never updates a ledger row; a hand-made UPDATE still keeps the sums.
CREATE TRIGGER usage_rollup_change AFTER UPDATE ON usage_ledger BEGIN
    UPDATE usage_rollup SET
        input_tokens = input_tokens - old.input_tokens,
        output_tokens = output_tokens - old.output_tokens,
        cached_tokens = cached_tokens - old.cached_tokens,
        cost = CASE WHEN old.cost IS NULL THEN cost
                    WHEN costed = 1 THEN NULL
                    ELSE cost - old.cost END,
        costed = costed - (old.cost IS NOT NULL),
        events = events - 1
    WHERE sid = old.sid AND model = old.model AND day = old.created_at / 86400;
    DELETE FROM usage_rollup
    WHERE sid = old.sid AND model = old.model AND day = old.created_at / 86400
      AND events = 0;
    INSERT INTO usage_rollup
    VALUES (new.sid, new.model, new.created_at / 86400, new.input_tokens,
            new.output_tokens, new.cached_tokens, new.cost, new.cost IS NOT NULL, 1)
    ON CONFLICT (sid, model, day) DO UPDATE SET
        input_tokens = input_tokens + excluded.input_tokens,
        output_tokens = output_tokens + excluded.output_tokens,
        cached_tokens = cached_tokens + excluded.cached_tokens,
        cost = CASE WHEN excluded.cost IS NULL THEN cost
                    ELSE coalesce(cost, 0) + excluded.cost END,
        costed = costed + excluded.costed,
        events = events + 1;
END;
