"""Peak memory of a PostgreSQL backend while a statement runs.

PeakSampler reads /proc/<pid>/status of a backend (pg_backend_pid() of the
connection that runs the work) from a thread every ~20 ms and keeps the
highest value of each field seen, in kB:

- RssAnon: the backend's private (anonymous) resident memory, i.e. what
  palloc'd contexts and sort/hash buffers use.  Shared buffers are shared
  memory and do not count, so this is the figure that shows whether a
  statement streams its rows or materializes them.
- VmHWM: the kernel's high-water mark of the whole resident set (shared
  memory the backend touched included) over the process's lifetime; only
  for information.

Reading another user's /proc/<pid>/status needs the same user or root (the
test suites run as root).  Used by test/limits_test.py and by the benchmark.

    with PeakSampler(pid) as mem:
        cur.execute(...)
    print(mem.peak_mb("RssAnon"), mem.start["RssAnon"])

limit=("RssAnon", kB, callback) calls callback() once, from the sampling
thread, when that field first exceeds kB (e.g. to cancel a runaway query
before it takes the machine's memory).
"""
import threading

FIELDS = ("RssAnon", "VmHWM")


def read_status(pid, fields=FIELDS):
    """The given fields of /proc/<pid>/status, in kB (None once it exited)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            lines = f.read().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return None
    values = {}
    for line in lines:
        name, _, rest = line.partition(":")
        if name in fields:
            values[name] = int(rest.split()[0])  # "    1234 kB"
    missing = set(fields) - set(values)
    if missing:
        raise RuntimeError("/proc/%d/status has no %s" % (pid, sorted(missing)))
    return values


class PeakSampler:
    """Context manager sampling a process's memory until the block ends."""

    def __init__(self, pid, interval=0.02, fields=FIELDS, limit=None):
        self.pid = pid
        self.limit = limit
        self.exceeded = False
        self.interval = interval
        self.fields = fields
        self.start = None     # values when the block began
        self.peak = None      # highest value of each field seen, kB
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        values = read_status(self.pid, self.fields)
        if values is None:
            return False
        self.samples += 1
        for name, kb in values.items():
            self.peak[name] = max(self.peak[name], kb)
        if self.limit and not self.exceeded:
            field, kb, callback = self.limit
            if values[field] > kb:
                self.exceeded = True
                callback()
        return True

    def _run(self):
        while not self._stop.wait(self.interval):
            if not self._sample():
                return

    def __enter__(self):
        self.start = read_status(self.pid, self.fields)
        if self.start is None:
            raise RuntimeError("no process %d" % self.pid)
        self.peak = dict(self.start)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()  # the state at the end counts too
        return False

    def peak_mb(self, field="RssAnon"):
        return self.peak[field] / 1024.0

    def summary(self):
        """One line: peak (and start) of each field in MB."""
        return ", ".join("%s peak %.1f MB (start %.1f MB)"
                         % (f, self.peak[f] / 1024.0, self.start[f] / 1024.0)
                         for f in self.fields)
