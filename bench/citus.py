"""make bench-citus: what Citus mode costs, as ratios measured side by side.

Run by test/citus/run.sh (CITUS_SCRIPT), on the cluster of make test-citus:
a coordinator and two workers on this machine, "document" registered for
Citus.  Two co-located paragraph tables, one tracked and one not, hold the
same rows.  Each round runs the same number of one-row UPDATE transactions
through the coordinator on each table, alternating, every transaction with
SET LOCAL undoredo.scope (so the only difference is capture); the ratio of
their times is printed per round and as the median.  Then the time of a
routed undo of a one-row step against that of the one-row UPDATE
transaction.  And the same one-row transactions run on a worker, on the
shards it holds (citus.enable_manual_changes_to_shards): capture's own cost,
without the network.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "test",
                                "citus"))
import citus_test  # noqa: E402
from citus_test import Suite, q  # noqa: E402

DOCS = 50
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "5"))
PER_ROUND = int(os.environ.get("BENCH_TRANSACTIONS", "1500"))


def transactions(conn, table, n, start):
    t0 = time.perf_counter()
    cur = conn.cursor()
    for i in range(n):
        doc = (start + i) % DOCS + 1
        cur.execute("SET LOCAL citus.propagate_set_commands = 'local'")
        cur.execute("SET LOCAL undoredo.scope = 'document:%d'" % doc)
        cur.execute("UPDATE %s SET body = %%s WHERE doc_id = %%s AND pos = 1" % table,
                    ("r%d" % (start + i), doc))
        conn.commit()
    return time.perf_counter() - t0


def shard_transactions(conn, shard, doc, n):
    t0 = time.perf_counter()
    cur = conn.cursor()
    for i in range(n):
        cur.execute("SET LOCAL citus.enable_manual_changes_to_shards = on")
        cur.execute("SET LOCAL undoredo.scope = 'document:%d'" % doc)
        cur.execute("UPDATE %s SET body = %%s WHERE doc_id = %%s AND pos = 1" % shard,
                    ("w%d" % i, doc))
        conn.commit()
    return time.perf_counter() - t0


def on_worker(s, c):
    """Capture's cost on the worker itself: one-row transactions on the
    shards of one document, tracked and not."""
    doc = 1
    holder = citus_test.placement(s, "bt_tracked", doc)
    shards = {t: "%s_%d" % (t, citus_test.shard_id(s, t, doc)) for t in ("bt_tracked", "bt_plain")}
    w = holder.connect(autocommit=False)
    shard_transactions(w, shards["bt_tracked"], doc, 50)
    shard_transactions(w, shards["bt_plain"], doc, 50)
    ratios = []
    for r in range(ROUNDS):
        tracked = shard_transactions(w, shards["bt_tracked"], doc, PER_ROUND)
        plain = shard_transactions(w, shards["bt_plain"], doc, PER_ROUND)
        ratios.append(tracked / plain)
        print("round %d: one-row UPDATE transaction on the worker's shard,"
              " tracked %.3f ms, untracked %.3f ms: %.2fx"
              % (r + 1, 1000 * tracked / PER_ROUND, 1000 * plain / PER_ROUND, ratios[-1]),
              flush=True)
    print("capture on a worker (tracked / untracked transaction time): median %.2fx"
          " (range %.2f-%.2f, %d rounds of %d transactions)"
          % (statistics.median(ratios), min(ratios), max(ratios), ROUNDS, PER_ROUND))
    w.close()


def main():
    s = Suite()
    try:
        s.start()
        c = s.conn(s.coord)
        for t in ("bt_tracked", "bt_plain"):
            q(c, "CREATE TABLE %s (doc_id bigint, pos int, body text,"
                 " PRIMARY KEY (doc_id, pos))" % t)
            q(c, "SELECT create_distributed_table(%s, 'doc_id', colocate_with => 'document')",
              (t,))
            q(c, "INSERT INTO %s SELECT d, 1, 'v0' FROM generate_series(1, %d) d" % (t, DOCS))
        q(c, "SELECT undoredo_track('bt_tracked')")
        on_worker(s, c)
        w = s.coord.connect(autocommit=False)
        transactions(w, "bt_tracked", DOCS, 0)   # warm both up
        transactions(w, "bt_plain", DOCS, 0)
        ratios = []
        for r in range(ROUNDS):
            tracked = transactions(w, "bt_tracked", PER_ROUND, r * PER_ROUND)
            plain = transactions(w, "bt_plain", PER_ROUND, r * PER_ROUND)
            ratios.append(tracked / plain)
            print("round %d: one-row UPDATE transaction through the coordinator,"
                  " tracked %.2f ms, untracked %.2f ms: %.2fx"
                  % (r + 1, 1000 * tracked / PER_ROUND, 1000 * plain / PER_ROUND,
                     ratios[-1]), flush=True)
        print("capture on Citus (tracked / untracked transaction time): median %.2fx"
              " (range %.2f-%.2f, %d rounds of %d transactions)"
              % (statistics.median(ratios), min(ratios), max(ratios), ROUNDS, PER_ROUND))
        # a routed undo of a one-row step against the transaction it undoes
        undo = []
        update = []
        for i in range(PER_ROUND // 4):
            doc = i % DOCS + 1
            update.append(transactions(w, "bt_tracked", 1, doc - 1))
            t0 = time.perf_counter()
            q(c, "SELECT * FROM undoredo_undo('document', %s)", (doc,))
            undo.append(time.perf_counter() - t0)
        print("routed undo of a one-row step: %.2fx the one-row UPDATE transaction"
              " (medians %.2f ms and %.2f ms)"
              % (statistics.median(undo) / statistics.median(update),
                 1000 * statistics.median(undo), 1000 * statistics.median(update)))
        w.close()
    finally:
        if os.environ.get("CITUS_KEEP") != "1":
            s.stop()


if __name__ == "__main__":
    main()
