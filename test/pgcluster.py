"""A throwaway PostgreSQL cluster for tests that need a server of their own
(settings that need a restart, or several servers).

The cluster lives in a temporary directory: initdb (as the postgres OS user
when run as root), Unix socket in that directory only (no TCP port, so
nothing collides with other servers on the machine), removed by destroy().
The undoredo extension must be installed in the PostgreSQL that PG_CONFIG
names (default: the system PostgreSQL 15).
"""
import os
import pwd
import shutil
import subprocess
import tempfile

import psycopg2

PG_CONFIG = os.environ.get("PG_CONFIG", "/usr/lib/postgresql/15/bin/pg_config")
PORT = 5432   # only names the socket file inside the private directory


class Cluster:
    def __init__(self, name, settings=None):
        self.dir = tempfile.mkdtemp(prefix="undoredo-%s-" % name)
        self.data = os.path.join(self.dir, "data")
        self.log = os.path.join(self.dir, "server.log")
        self.bindir = subprocess.check_output([PG_CONFIG, "--bindir"], text=True).strip()
        self.as_postgres = os.getuid() == 0
        if self.as_postgres:
            pw = pwd.getpwnam("postgres")
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
        self.settings = {"listen_addresses": "''",
                         "unix_socket_directories": "'%s'" % self.dir,
                         "port": str(PORT),
                         "fsync": "off"}
        self.settings.update(settings or {})

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

    def log_tail(self, lines=30):
        try:
            with open(self.log) as f:
                return "server log:\n" + "".join(f.readlines()[-lines:])
        except FileNotFoundError:
            return ""

    def write_settings(self):
        with open(os.path.join(self.data, "postgresql.auto.conf"), "w") as conf:
            for name, value in self.settings.items():
                conf.write("%s = %s\n" % (name, value))

    def create(self):
        self.run("initdb", "-D", self.data, "-U", "postgres", "-A", "trust",
                 "-E", "UTF8", "--locale=C")
        self.write_settings()
        return self

    def start(self):
        self.run("pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120", "start")
        return self

    def stop(self, mode="fast"):
        self.run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "120", "stop")

    def restart(self, **settings):
        self.stop()
        self.settings.update({k: str(v) for k, v in settings.items()})
        self.write_settings()
        self.start()

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def dsn(self, dbname="postgres"):
        return "host=%s port=%d user=postgres dbname=%s" % (self.dir, PORT, dbname)

    def connect(self, dbname="postgres"):
        conn = psycopg2.connect(self.dsn(dbname))
        conn.autocommit = True
        return conn

    def destroy(self):
        if self.running():
            try:
                self.stop("immediate")
            except RuntimeError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)
