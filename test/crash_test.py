"""Crash safety: a power cut in the middle of capture or undo loses no step
and leaves no half step.

The test makes its own PostgreSQL cluster in a temporary directory (initdb,
as the postgres OS user when run as root; Unix socket in that directory only;
fsync on), because it kills it: SIGSTOP of the postmaster, then SIGKILL of
every process of the cluster, like a power cut (no shutdown checkpoint, no
process gets to clean up).  Then pg_ctl start runs crash recovery.  The
undoredo extension must be installed in the system PostgreSQL.

Cases, each on a table of 200,000 rows of its own:
- a: killed while a background connection runs a large captured transaction
  (200,000 inserts and an update of 400,000 rows under a scope);
- b: killed while a background connection undoes a 200,000-row step;
- c: killed right after an undo of a 200,000-row step has committed.
After recovery, undoredo_status and undoredo_history (states and `changes`)
and the table content (md5 of an ordered text dump, computed on the server)
must be exactly those of the last committed transaction, and undo, redo and
a new capture must still give the expected states.  The cluster is removed
at the end, whether the tests passed or not.
"""
import ctypes
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

import psycopg2

ROWS = 200000
PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
PORT = 5432   # only names the socket file inside the private directory
REPORT = []   # printed after the last test, not inside unittest's lines


def become_subreaper():
    """Make the postmaster, orphaned when pg_ctl exits, a child of this
    process, so that its corpse is reaped here even without an init that
    reaps (a zombie postmaster would block the restart)."""
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_CHILD_SUBREAPER = 36
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def reap():
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open("/proc/%s/stat" % entry) as f:
                    ppid = int(f.read().rpartition(")")[2].split()[1])
            except (FileNotFoundError, ProcessLookupError):
                continue
            if ppid == pid:
                found.append(int(entry))
    return found


class Cluster:
    """A throwaway cluster in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="undoredo-crash-")
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.bindir = subprocess.check_output([PG_CONFIG, "--bindir"], text=True).strip()
        self.as_postgres = os.getuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)

    def run(self, program, *args):
        cmd = [os.path.join(self.bindir, program), *args]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        done = subprocess.run(cmd, cwd=self.dir, env=env, stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if done.returncode != 0:
            raise RuntimeError("%s failed:\n%s\n%s" % (" ".join(cmd), done.stdout,
                                                      self.log_tail()))

    def log_tail(self):
        try:
            with open(self.log) as f:
                return "server log:\n" + "".join(f.readlines()[-30:])
        except FileNotFoundError:
            return ""

    def create(self):
        self.run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--locale=C")
        with open(os.path.join(self.data, "postgresql.conf"), "a") as conf:
            conf.write("listen_addresses = ''\n"
                       "unix_socket_directories = '%s'\n"
                       "port = %d\n"
                       "fsync = on\n"
                       "synchronous_commit = on\n"
                       "full_page_writes = on\n" % (self.dir, PORT))

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "300", "start")

    def connect(self):
        conn = psycopg2.connect(host=self.dir, port=PORT, user="postgres",
                                dbname="postgres")
        conn.autocommit = True
        return conn

    def postmaster(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                pid = int(f.readline())
        except (FileNotFoundError, ValueError):
            return None
        return pid if alive(pid) else None

    def power_cut(self):
        """SIGKILL the postmaster and all its children at once."""
        pm = self.postmaster()
        if pm is None:
            raise AssertionError("the server is not running")
        os.kill(pm, signal.SIGSTOP)   # it can neither fork nor react now
        victims = children(pm) + [pm]
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in victims):
            reap()
            if time.monotonic() > deadline:
                raise RuntimeError("processes survived SIGKILL: %s" % victims)
            time.sleep(0.01)
        reap()
        return len(victims)

    def destroy(self):
        if self.postmaster() is not None:
            self.power_cut()
        shutil.rmtree(self.dir, ignore_errors=True)


class Background(threading.Thread):
    """Runs statements in one transaction on a connection of its own; the
    last one (pg_sleep) never ends by itself, so the transaction cannot
    commit before the power cut."""

    def __init__(self, conn, statements):
        super().__init__(daemon=True)
        self.conn = conn
        self.statements = statements
        self.committed = False
        self.error = None

    def run(self):
        try:
            cur = self.conn.cursor()
            cur.execute("BEGIN")
            for sql in self.statements:
                cur.execute(sql)
            cur.execute("COMMIT")
            self.committed = True
        except psycopg2.Error as e:
            self.error = e


class CrashTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        become_subreaper()
        cls.cluster = Cluster()
        cls.addClassCleanup(cls.cluster.destroy)
        cls.cluster.create()
        cls.cluster.start()
        with cls.cluster.connect() as conn, conn.cursor() as cur:
            cur.execute("CREATE EXTENSION undoredo")
            cur.execute("SHOW fsync")
            assert cur.fetchone()[0] == "on"

    @classmethod
    def tearDownClass(cls):
        print("\n".join(REPORT), file=sys.stderr, flush=True)

    def setUp(self):
        self.conn = self.cluster.connect()
        self.cur = self.conn.cursor()

    def tearDown(self):
        self.conn.close()

    def make_table(self, table):
        self.cur.execute("CREATE TABLE %s (id bigint PRIMARY KEY, n int NOT NULL,"
                         " t text NOT NULL)" % table)
        self.cur.execute("SELECT undoredo_track(%s)", (table,))
        self.cur.execute("INSERT INTO %s SELECT g, g %% 1000, 'row ' || pg_catalog.lpad("
                         "g::text, 16, '0') FROM pg_catalog.generate_series(1, %d) AS g"
                         % (table, ROWS))

    def snapshot(self, table, scope_id):
        """(table md5, row count, status, history) of the table and scope."""
        cur = self.cur
        cur.execute("SELECT pg_catalog.md5(pg_catalog.string_agg(t::text, E'\\n'"
                    " ORDER BY t.id)), pg_catalog.count(*) FROM %s AS t" % table)
        content = cur.fetchone()
        cur.execute("SELECT * FROM undoredo_status('crash', %s)", (scope_id,))
        status = cur.fetchone()
        cur.execute("SELECT step, state, label, changes"
                    " FROM undoredo_history('crash', %s)", (scope_id,))
        return content, status, cur.fetchall()

    def capture(self, scope_id, sql):
        self.cur.execute("SET undoredo.scope = 'crash:%d'" % scope_id)
        self.cur.execute(sql)
        self.cur.execute("RESET undoredo.scope")

    def call(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchone()

    def wait_active(self, pid, prefix):
        """Wait until backend pid runs a statement starting with prefix."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            self.cur.execute("SELECT query FROM pg_catalog.pg_stat_activity"
                             " WHERE pid = %s AND state = 'active'", (pid,))
            row = self.cur.fetchone()
            if row and row[0].startswith(prefix):
                return
            time.sleep(0.02)
        self.fail("backend %d never ran %s" % (pid, prefix))

    def crash_during(self, statements, prefix, delay):
        """Run statements in a background transaction; power cut `delay`
        seconds after the statement starting with prefix has started."""
        bg_conn = self.cluster.connect()
        bg_conn.cursor().execute("SELECT 1")
        pid = bg_conn.get_backend_pid()
        bg = Background(bg_conn, statements + ["SELECT pg_catalog.pg_sleep(3600)"])
        bg.start()
        self.wait_active(pid, prefix)
        time.sleep(delay)
        self.cur.execute("SELECT query FROM pg_catalog.pg_stat_activity WHERE pid = %s",
                         (pid,))
        running = self.cur.fetchone()[0]
        killed = self.cluster.power_cut()
        bg.join(60)
        bg_conn.close()
        self.assertFalse(bg.committed)
        self.assertIsNotNone(bg.error)
        return running, killed

    def restart(self):
        started = time.monotonic()
        self.cluster.start()
        self.conn = self.cluster.connect()
        self.cur = self.conn.cursor()
        return time.monotonic() - started

    def test_a_crash_during_capture(self):
        self.make_table("public.crash_a")
        before = self.snapshot("public.crash_a", 1)
        self.capture(1, "UPDATE public.crash_a SET t = 'first' WHERE id <= 10")
        committed = self.snapshot("public.crash_a", 1)
        self.assertEqual(committed[1], (1, 0))
        self.assertEqual([h[3] for h in committed[2]], [10])

        running, killed = self.crash_during(
            ["SET LOCAL undoredo.scope = 'crash:1'",
             "INSERT INTO public.crash_a SELECT g, 0, 'new' FROM"
             " pg_catalog.generate_series(%d, %d) AS g" % (ROWS + 1, 2 * ROWS),
             "UPDATE public.crash_a SET n = n + 1"], "UPDATE", 1.0)
        recovery = self.restart()
        REPORT.append("a: killed %d processes during %r; recovery %.1f s"
                      % (killed, running[:40], recovery))
        self.assertEqual(self.snapshot("public.crash_a", 1), committed)
        self.assertEqual(self.call("SELECT * FROM undoredo_undo('crash', 1)"), (0, 1))
        self.assertEqual(self.snapshot("public.crash_a", 1)[0], before[0])
        self.assertEqual(self.call("SELECT * FROM undoredo_redo('crash', 1)"), (1, 0))
        self.assertEqual(self.snapshot("public.crash_a", 1), committed)
        # the scope takes new steps
        self.capture(1, "DELETE FROM public.crash_a WHERE id <= 5")
        self.assertEqual(self.call("SELECT * FROM undoredo_status('crash', 1)"), (2, 0))
        self.assertEqual(self.call("SELECT * FROM undoredo_undo('crash', 1)"), (1, 1))
        self.assertEqual(self.snapshot("public.crash_a", 1)[0], committed[0])

    def test_b_crash_during_undo(self):
        self.make_table("public.crash_b")
        before = self.snapshot("public.crash_b", 2)
        self.capture(2, "UPDATE public.crash_b SET n = n + 1, t = t || '!'")
        committed = self.snapshot("public.crash_b", 2)
        self.assertEqual(committed[1], (1, 0))
        self.assertEqual([h[3] for h in committed[2]], [ROWS])

        running, killed = self.crash_during(
            ["SELECT * FROM undoredo_undo('crash', 2)"], "SELECT * FROM undoredo_undo", 1.0)
        recovery = self.restart()
        REPORT.append("b: killed %d processes during %r; recovery %.1f s"
                      % (killed, running[:40], recovery))
        self.assertEqual(self.snapshot("public.crash_b", 2), committed)
        self.assertEqual(self.call("SELECT * FROM undoredo_undo('crash', 2)"), (0, 1))
        self.assertEqual(self.snapshot("public.crash_b", 2)[0], before[0])
        self.assertEqual(self.call("SELECT * FROM undoredo_redo('crash', 2)"), (1, 0))
        self.assertEqual(self.snapshot("public.crash_b", 2), committed)

    def test_c_crash_after_undo_commits(self):
        self.make_table("public.crash_c")
        before = self.snapshot("public.crash_c", 3)
        self.capture(3, "DELETE FROM public.crash_c WHERE id % 2 = 0")
        first = self.snapshot("public.crash_c", 3)
        self.capture(3, "UPDATE public.crash_c SET t = 'second'")
        second = self.snapshot("public.crash_c", 3)
        self.assertEqual(second[1], (2, 0))
        self.assertEqual([h[3] for h in second[2]], [ROWS // 2, ROWS // 2])

        self.assertEqual(self.call("SELECT * FROM undoredo_undo('crash', 3)"), (1, 1))
        killed = self.cluster.power_cut()
        recovery = self.restart()
        REPORT.append("c: killed %d processes after the undo; recovery %.1f s"
                      % (killed, recovery))
        undone = self.snapshot("public.crash_c", 3)
        self.assertEqual(undone[0], first[0])
        self.assertEqual(undone[1], (1, 1))
        self.assertEqual(undone[2], [h[:1] + ("redo" if i else "undo",) + h[2:]
                                     for i, h in enumerate(second[2])])
        self.assertEqual(self.call("SELECT * FROM undoredo_redo('crash', 3)"), (2, 0))
        self.assertEqual(self.snapshot("public.crash_c", 3), second)
        self.assertEqual(self.call("SELECT * FROM undoredo_undo('crash', 3, 2)"), (0, 2))
        self.assertEqual(self.snapshot("public.crash_c", 3)[0], before[0])


if __name__ == "__main__":
    unittest.main()
