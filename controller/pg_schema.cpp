// Migration 1: runs (the Run JSON with the columns lists and cursors filter on), settings (the
// list cursors' key), members for the controllers sharing the database; migration 2: ownership
// (epochs) and cancels between members; migration 3: idempotency keys; migration 4: run events
// (the event streams served on every member); migration 5: nonces and quotas across members
// (decision 73); migrations 6 and 7: batched quotas, lost nonces; migration 8: the commit order
// of run events, which other members' organization streams follow, and the events of runs
// finished as controllerLost (decision 84); migration 9: what the retention sweep looks for
// (decision 85). A new migration is appended, never edited.
#include "controller/pg_schema.hpp"

#include <array>

namespace forkrun::controller {

namespace {

constexpr std::string_view kRunsAndMembers = R"sql(
CREATE TABLE runs (
    id              text PRIMARY KEY,
    organization_id text NOT NULL,
    org_seq         bigint NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    is_simulation   boolean NOT NULL,
    is_dust_test    boolean NOT NULL,
    workflow_id     text NOT NULL,
    owner_id        text NOT NULL,
    run_json        json NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT runs_org_seq UNIQUE (organization_id, org_seq)
);
CREATE INDEX runs_org_status ON runs (organization_id, status, org_seq);
CREATE INDEX runs_org_workflow ON runs (organization_id, workflow_id, org_seq);
CREATE INDEX runs_created ON runs (created_at);
CREATE INDEX runs_live ON runs (owner_id) WHERE status IN ('waiting', 'running');
CREATE TABLE settings (
    key   text PRIMARY KEY,
    value text NOT NULL
);
CREATE TABLE members (
    id           text PRIMARY KEY,
    base_url     text NOT NULL,
    started_at   timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL
);
)sql";

// Migration 2 (several controllers): a member's epoch, bumped each time it registers or is
// taken over (fencing), and its slot (the organization numbers it gives out are its slot
// modulo 64); the owner's epoch on each run, which every owner write must match; a
// cancel asked on another member (who and why), and the owner's answer to it.
constexpr std::string_view kOwnership = R"sql(
ALTER TABLE members ADD COLUMN epoch bigint NOT NULL DEFAULT 0,
                    ADD COLUMN slot integer UNIQUE;
ALTER TABLE runs ADD COLUMN owner_epoch bigint NOT NULL DEFAULT 0,
                 ADD COLUMN cancel_request json,
                 ADD COLUMN cancel_result text;
CREATE INDEX runs_cancel_asked ON runs (owner_id)
    WHERE cancel_request IS NOT NULL AND cancel_result IS NULL;
)sql";

// Migration 3: idempotency keys shared by the controllers (a key's claim, then the run it made).
constexpr std::string_view kIdempotencyKeys = R"sql(
CREATE TABLE idempotency_keys (
    organization_id text NOT NULL,
    key             text NOT NULL,
    digest          text NOT NULL,
    claimed_at      timestamptz NOT NULL,
    claimed_by      text NOT NULL,
    run_id          text,
    status          integer,
    PRIMARY KEY (organization_id, key)
);
)sql";

// Migration 4: each run's events as its owner's stream numbered them, written with the owner's
// batches, so any member serves the stream (replay, Last-Event-ID, live tail).
constexpr std::string_view kRunEvents = R"sql(
CREATE TABLE run_events (
    run_id text NOT NULL,
    seq    bigint NOT NULL,
    type   text NOT NULL,
    data   json NOT NULL,
    PRIMARY KEY (run_id, seq)
);
)sql";

// Migration 5 (decision 73): nonces per (signer, chain) shared by the members: the next one to
// hand out (absent: read the chain; stale: read it again, never handing out less), and each
// nonce out (held by a member process, named by its epoch) or given back (held false, handed
// out first). Quota counts per organization and member, summed over the members whose epoch is
// current. Each change is one function call, so it is one statement and one round trip; the
// counter row (nonces) or an advisory lock per organization (quotas) orders the callers.
constexpr std::string_view kNoncesAndQuotas = R"sql(
CREATE TABLE nonce_counters (
    signer     text NOT NULL,
    chain_id   bigint NOT NULL,
    next_nonce bigint NOT NULL,
    stale      boolean NOT NULL DEFAULT false,
    PRIMARY KEY (signer, chain_id)
);
CREATE TABLE nonce_allocations (
    signer       text NOT NULL,
    chain_id     bigint NOT NULL,
    nonce        bigint NOT NULL,
    held         boolean NOT NULL,
    member_id    text NOT NULL,
    member_epoch bigint NOT NULL,
    allocated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (signer, chain_id, nonce)
);
CREATE FUNCTION forkrun_take_nonce(p_signer text, p_chain bigint, p_member text,
                                   p_epoch bigint, p_count bigint) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    c nonce_counters%ROWTYPE;
    n bigint;
BEGIN
    IF p_count IS NOT NULL THEN
        -- Below the chain's count every nonce is used, whoever sent it.
        INSERT INTO nonce_counters AS k (signer, chain_id, next_nonce)
            VALUES (p_signer, p_chain, p_count)
            ON CONFLICT (signer, chain_id) DO UPDATE
            SET next_nonce = greatest(k.next_nonce, EXCLUDED.next_nonce), stale = false;
        DELETE FROM nonce_allocations
            WHERE signer = p_signer AND chain_id = p_chain AND NOT held AND nonce < p_count;
    END IF;
    SELECT * INTO c FROM nonce_counters
        WHERE signer = p_signer AND chain_id = p_chain FOR UPDATE;
    IF NOT FOUND OR c.stale THEN
        RETURN NULL;
    END IF;
    -- Held by a member process that is gone (its epoch moved on): given back.
    UPDATE nonce_allocations a SET held = false
        WHERE a.signer = p_signer AND a.chain_id = p_chain AND a.held AND NOT EXISTS (
            SELECT 1 FROM members m WHERE m.id = a.member_id AND m.epoch = a.member_epoch);
    SELECT nonce INTO n FROM nonce_allocations
        WHERE signer = p_signer AND chain_id = p_chain AND NOT held ORDER BY nonce LIMIT 1;
    IF FOUND THEN
        UPDATE nonce_allocations
            SET held = true, member_id = p_member, member_epoch = p_epoch, allocated_at = now()
            WHERE signer = p_signer AND chain_id = p_chain AND nonce = n;
    ELSE
        n := c.next_nonce;
        UPDATE nonce_counters SET next_nonce = n + 1
            WHERE signer = p_signer AND chain_id = p_chain;
        INSERT INTO nonce_allocations (signer, chain_id, nonce, held, member_id, member_epoch)
            VALUES (p_signer, p_chain, n, true, p_member, p_epoch);
    END IF;
    RETURN n;
END $$;
CREATE FUNCTION forkrun_settle_nonce(p_signer text, p_chain bigint, p_nonce bigint,
                                     p_member text, p_epoch bigint, p_outcome text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM nonce_counters WHERE signer = p_signer AND chain_id = p_chain FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_outcome = 'unsent' THEN
        UPDATE nonce_allocations SET held = false
            WHERE signer = p_signer AND chain_id = p_chain AND nonce = p_nonce AND held
              AND member_id = p_member AND member_epoch = p_epoch;
    ELSE
        DELETE FROM nonce_allocations
            WHERE signer = p_signer AND chain_id = p_chain AND nonce = p_nonce AND held
              AND member_id = p_member AND member_epoch = p_epoch;
        IF p_outcome = 'stale' THEN
            UPDATE nonce_counters SET stale = true
                WHERE signer = p_signer AND chain_id = p_chain;
        END IF;
    END IF;
    -- None out: forgotten, so the next use reads the chain (what was sent from elsewhere, and
    -- a nonce given back that nobody took).
    IF NOT EXISTS (SELECT 1 FROM nonce_allocations
                   WHERE signer = p_signer AND chain_id = p_chain AND held) THEN
        DELETE FROM nonce_allocations WHERE signer = p_signer AND chain_id = p_chain;
        DELETE FROM nonce_counters WHERE signer = p_signer AND chain_id = p_chain;
    END IF;
END $$;
CREATE TABLE quota_counters (
    organization_id text NOT NULL,
    member_id       text NOT NULL,
    member_epoch    bigint NOT NULL,
    runs            bigint NOT NULL,
    forks           bigint NOT NULL,
    PRIMARY KEY (organization_id, member_id)
);
CREATE FUNCTION forkrun_take_quota(p_org text, p_member text, p_epoch bigint, p_forks bigint,
                                   p_max_runs bigint, p_max_forks bigint, p_lease_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r bigint;
    f bigint;
BEGIN
    -- Soft state: a count lost with the database's last moments is put right as runs end.
    PERFORM set_config('synchronous_commit', 'off', true);
    PERFORM pg_advisory_xact_lock(hashtextextended('forkrun quota ' || p_org, 0));
    SELECT coalesce(sum(q.runs), 0), coalesce(sum(q.forks), 0) INTO r, f
        FROM quota_counters q JOIN members m ON m.id = q.member_id AND m.epoch = q.member_epoch
        WHERE q.organization_id = p_org AND (m.id = p_member
            OR m.heartbeat_at >= now() - p_lease_ms * interval '1 millisecond');
    IF r >= p_max_runs THEN
        RETURN 'runs ' || r;
    END IF;
    IF p_forks > 0 AND f + p_forks > p_max_forks THEN
        RETURN 'forks ' || f;
    END IF;
    INSERT INTO quota_counters AS q VALUES (p_org, p_member, p_epoch, 1, p_forks)
        ON CONFLICT (organization_id, member_id) DO UPDATE SET
            runs = CASE WHEN q.member_epoch = EXCLUDED.member_epoch THEN q.runs + 1 ELSE 1 END,
            forks = EXCLUDED.forks + CASE WHEN q.member_epoch = EXCLUDED.member_epoch
                                          THEN q.forks ELSE 0 END,
            member_epoch = EXCLUDED.member_epoch;
    RETURN 'ok';
END $$;
CREATE FUNCTION forkrun_give_quota(p_org text, p_member text, p_epoch bigint, p_runs bigint,
                                   p_forks bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE quota_counters
        SET runs = greatest(runs - p_runs, 0), forks = greatest(forks - p_forks, 0)
        WHERE organization_id = p_org AND member_id = p_member AND member_epoch = p_epoch;
    DELETE FROM quota_counters
        WHERE organization_id = p_org AND member_id = p_member AND runs = 0 AND forks = 0;
END $$;
)sql";

// Migration 6 (decision 76): a member's creates take their organizations' places in batches,
// one statement for every take that queued while the one before was in the database; each take
// is [organization, forks, its run limit, its fork limit], each answer one row as
// forkrun_take_quota's. The places given back meanwhile go in one statement too, one
// [organization, epoch, runs, forks] per organization and epoch. Every
// organization's lock is taken first, in one order (so two members' batches never wait on each
// other in a cycle); then each take, in the order sent, sees the ones before it.
constexpr std::string_view kBatchedQuotas = R"sql(
CREATE FUNCTION forkrun_take_quotas(p_takes json, p_member text, p_epoch bigint,
                                    p_lease_ms bigint)
RETURNS TABLE (answer text)
LANGUAGE plpgsql AS $$
DECLARE
    o text;
    t record;
    r bigint;
    f bigint;
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    FOR o IN SELECT DISTINCT e->>0 FROM json_array_elements(p_takes) e ORDER BY 1 LOOP
        PERFORM pg_advisory_xact_lock(hashtextextended('forkrun quota ' || o, 0));
    END LOOP;
    FOR t IN SELECT e->>0 AS org, (e->>1)::bigint AS forks, (e->>2)::bigint AS max_runs,
                    (e->>3)::bigint AS max_forks
             FROM json_array_elements(p_takes) WITH ORDINALITY AS x(e, i) ORDER BY i LOOP
        SELECT coalesce(sum(q.runs), 0), coalesce(sum(q.forks), 0) INTO r, f
            FROM quota_counters q
            JOIN members m ON m.id = q.member_id AND m.epoch = q.member_epoch
            WHERE q.organization_id = t.org AND (m.id = p_member
                OR m.heartbeat_at >= now() - p_lease_ms * interval '1 millisecond');
        IF r >= t.max_runs THEN
            answer := 'runs ' || r;
        ELSIF t.forks > 0 AND f + t.forks > t.max_forks THEN
            answer := 'forks ' || f;
        ELSE
            INSERT INTO quota_counters AS q VALUES (t.org, p_member, p_epoch, 1, t.forks)
                ON CONFLICT (organization_id, member_id) DO UPDATE SET
                    runs = CASE WHEN q.member_epoch = EXCLUDED.member_epoch
                                THEN q.runs + 1 ELSE 1 END,
                    forks = EXCLUDED.forks + CASE WHEN q.member_epoch = EXCLUDED.member_epoch
                                                  THEN q.forks ELSE 0 END,
                    member_epoch = EXCLUDED.member_epoch;
            answer := 'ok';
        END IF;
        RETURN NEXT;
    END LOOP;
END $$;
CREATE FUNCTION forkrun_give_quotas(p_gives json, p_member text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    UPDATE quota_counters q
        SET runs = greatest(q.runs - g.runs, 0), forks = greatest(q.forks - g.forks, 0)
        FROM (SELECT e->>0 AS org, (e->>1)::bigint AS epoch, (e->>2)::bigint AS runs,
                     (e->>3)::bigint AS forks
              FROM json_array_elements(p_gives) e) g
        WHERE q.organization_id = g.org AND q.member_id = p_member AND q.member_epoch = g.epoch;
    DELETE FROM quota_counters q
        USING (SELECT DISTINCT e->>0 AS org FROM json_array_elements(p_gives) e) g
        WHERE q.organization_id = g.org AND q.member_id = p_member AND q.runs = 0
          AND q.forks = 0;
END $$;
)sql";

// Migration 7 (decision 78): a take names the nonces its member process knows it holds; any
// other nonce held under that process's epoch is one whose take committed while its answer was
// lost (a connection dropped after the commit, the statement tried again), so it is given back
// before the take, to this allocation or the next, instead of leaving a gap that holds every
// later transaction of the signer back. Takes of one process go one at a time, so none of its
// own is in flight meanwhile.
constexpr std::string_view kLostNonces = R"sql(
CREATE FUNCTION forkrun_take_nonce(p_signer text, p_chain bigint, p_member text,
                                   p_epoch bigint, p_count bigint, p_known bigint[])
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM nonce_counters WHERE signer = p_signer AND chain_id = p_chain FOR UPDATE;
    UPDATE nonce_allocations SET held = false
        WHERE signer = p_signer AND chain_id = p_chain AND held AND member_id = p_member
          AND member_epoch = p_epoch AND NOT (nonce = ANY (p_known));
    RETURN forkrun_take_nonce(p_signer, p_chain, p_member, p_epoch, p_count);
END $$;
)sql";

// Migration 8 (decision 84): each event's transaction id, so another member reads the `run` and
// `end` events in commit order: every row below pg_snapshot_xmin(pg_current_snapshot()) is
// committed or never will be, so a reader that keeps (xid, run_id, seq) misses none and repeats
// none. Rows from before it have none and are not followed. forkrun_lost_events appends `run`
// (failure) and `end` to each live run of `p_ids` before it is finished as controllerLost, in
// the same transaction; their data is the owner's (controller/run_events.cpp), key for key.
constexpr std::string_view kOrgEventOrder = R"sql(
ALTER TABLE run_events ADD COLUMN xid xid8;
ALTER TABLE run_events ALTER COLUMN xid SET DEFAULT pg_current_xact_id();
CREATE INDEX run_events_commit_order ON run_events (xid, run_id, seq)
    WHERE type IN ('run', 'end') AND xid IS NOT NULL;
CREATE FUNCTION forkrun_lost_events(p_ids text[], p_at text) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO run_events (run_id, seq, type, data)
    SELECT r.id, coalesce(m.seq, 0) + k.n, k.type, (CASE k.type
        WHEN 'run' THEN '{"runId":' || to_json(r.id)::text || ',"status":"failure",'
            || '"previousStatus":' || to_json(r.status)::text || ',"totalCu":'
            || coalesce(r.run_json->>'totalCu', '0') || ',"at":' || to_json(p_at)::text || '}'
        ELSE '{"runId":' || to_json(r.id)::text || ',"status":"failure","totalCu":'
            || coalesce(r.run_json->>'totalCu', '0') || ',"finishedAt":'
            || to_json(p_at)::text || '}' END)::json
    FROM runs r
    LEFT JOIN LATERAL (SELECT max(e.seq) AS seq FROM run_events e WHERE e.run_id = r.id) m
        ON true
    CROSS JOIN (VALUES (1, 'run'), (2, 'end')) AS k(n, type)
    WHERE r.id = ANY (p_ids) AND r.status IN ('waiting', 'running')
    ON CONFLICT DO NOTHING;
$$;
)sql";

// Migration 9 (decision 85): what the retention sweep looks for, idempotency keys past their 24 h
// (finished runs past the retention are found by runs_created).
constexpr std::string_view kRetention = R"sql(
CREATE INDEX idempotency_keys_claimed ON idempotency_keys (claimed_at);
)sql";

// Migration 10 (decision 95): one statement carries a member's gives and takes together (the
// gives first, so their places are free for the takes), and the takes of one organization are
// counted with one sum and written with one upsert, however many the batch holds; each take still
// sees the ones before it. The organizations' locks are taken in one order, as before.
constexpr std::string_view kQuotaChannel = R"sql(
CREATE FUNCTION forkrun_quotas(p_gives json, p_takes json, p_member text, p_epoch bigint,
                               p_lease_ms bigint)
RETURNS TABLE (answer text)
LANGUAGE plpgsql AS $$
DECLARE
    t record;
    r bigint := 0;
    f bigint := 0;
    g_runs bigint := 0;
    g_forks bigint := 0;
    answers text[] := '{}';
BEGIN
    PERFORM set_config('synchronous_commit', 'off', true);
    IF json_array_length(p_gives) > 0 THEN
        UPDATE quota_counters q
            SET runs = greatest(q.runs - g.runs, 0), forks = greatest(q.forks - g.forks, 0)
            FROM (SELECT e->>0 AS org, (e->>1)::bigint AS epoch, (e->>2)::bigint AS runs,
                         (e->>3)::bigint AS forks
                  FROM json_array_elements(p_gives) e) g
            WHERE q.organization_id = g.org AND q.member_id = p_member
              AND q.member_epoch = g.epoch;
        DELETE FROM quota_counters q
            USING (SELECT DISTINCT e->>0 AS org FROM json_array_elements(p_gives) e) g
            WHERE q.organization_id = g.org AND q.member_id = p_member AND q.runs = 0
              AND q.forks = 0;
    END IF;
    -- By organization (in one order: its lock), each take in the order sent.
    FOR t IN SELECT e->>0 AS org, (e->>1)::bigint AS forks, (e->>2)::bigint AS max_runs,
                    (e->>3)::bigint AS max_forks, x.i::int AS i,
                    lag(e->>0) OVER w IS DISTINCT FROM e->>0 AS first,
                    lead(e->>0) OVER w IS DISTINCT FROM e->>0 AS last
             FROM json_array_elements(p_takes) WITH ORDINALITY AS x(e, i)
             WINDOW w AS (ORDER BY e->>0, x.i) ORDER BY e->>0, x.i LOOP
        IF t.first THEN
            g_runs := 0;
            g_forks := 0;
            PERFORM pg_advisory_xact_lock(hashtextextended('forkrun quota ' || t.org, 0));
            SELECT coalesce(sum(q.runs), 0), coalesce(sum(q.forks), 0) INTO r, f
                FROM quota_counters q
                JOIN members m ON m.id = q.member_id AND m.epoch = q.member_epoch
                WHERE q.organization_id = t.org AND (m.id = p_member
                    OR m.heartbeat_at >= now() - p_lease_ms * interval '1 millisecond');
        END IF;
        IF r + g_runs >= t.max_runs THEN
            answers[t.i] := 'runs ' || (r + g_runs);
        ELSIF t.forks > 0 AND f + g_forks + t.forks > t.max_forks THEN
            answers[t.i] := 'forks ' || (f + g_forks);
        ELSE
            g_runs := g_runs + 1;
            g_forks := g_forks + t.forks;
            answers[t.i] := 'ok';
        END IF;
        IF t.last AND g_runs > 0 THEN
            INSERT INTO quota_counters AS q VALUES (t.org, p_member, p_epoch, g_runs, g_forks)
                ON CONFLICT (organization_id, member_id) DO UPDATE SET
                    runs = EXCLUDED.runs + CASE WHEN q.member_epoch = EXCLUDED.member_epoch
                                                THEN q.runs ELSE 0 END,
                    forks = EXCLUDED.forks + CASE WHEN q.member_epoch = EXCLUDED.member_epoch
                                                  THEN q.forks ELSE 0 END,
                    member_epoch = EXCLUDED.member_epoch;
        END IF;
    END LOOP;
    RETURN QUERY SELECT a FROM unnest(answers) WITH ORDINALITY AS u(a, k) ORDER BY k;
END $$;
)sql";

// Migration 11 (decision 95, from its review): a quota statement waits at most 2 s for an
// organization's lock, below the 5 s a member waits for it. Otherwise a statement the member had
// given up on could take the lock later and commit, and the member would send its gives again:
// places given back twice.
constexpr std::string_view kQuotaLockWait = R"sql(
ALTER FUNCTION forkrun_quotas(json, json, text, bigint, bigint) SET lock_timeout = '2s';
)sql";

// Migration 12: the quota functions forkrun_quotas replaced (migrations 5 and 6), which nothing
// calls any more (a build that did refuses this newer schema).
constexpr std::string_view kOldQuotaFunctions = R"sql(
DROP FUNCTION forkrun_take_quota(text, text, bigint, bigint, bigint, bigint, bigint);
DROP FUNCTION forkrun_give_quota(text, text, bigint, bigint, bigint);
DROP FUNCTION forkrun_take_quotas(json, text, bigint, bigint);
DROP FUNCTION forkrun_give_quotas(json, text);
)sql";

constexpr std::array kMigrations{
    PgMigration{1, kRunsAndMembers},  PgMigration{2, kOwnership},
    PgMigration{3, kIdempotencyKeys}, PgMigration{4, kRunEvents},
    PgMigration{5, kNoncesAndQuotas}, PgMigration{6, kBatchedQuotas},
    PgMigration{7, kLostNonces},      PgMigration{8, kOrgEventOrder},
    PgMigration{9, kRetention},       PgMigration{10, kQuotaChannel},
    PgMigration{11, kQuotaLockWait},  PgMigration{12, kOldQuotaFunctions},
};

}  // namespace

std::span<const PgMigration> pg_migrations() {
    return kMigrations;
}

}  // namespace forkrun::controller
