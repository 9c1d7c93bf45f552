"""Shared by the CPython workload programs: arguments, figures and CPU work.

Each program runs one workload and prints {"metrics": {...}} as one JSON line,
the same schema as the C++ adapters (see harness/README.md). The tcp_echo
server first prints {"port": N} once it listens.
"""

import hashlib
import json
import math
import os
import resource
import sys
import threading
import time
import traceback


def parse_args(argv):
    """`WORKLOAD name=int ...` -> (workload, {name: int})."""
    if len(argv) < 2:
        sys.exit("usage: %s WORKLOAD [name=value ...]" % argv[0])
    params = {}
    for item in argv[2:]:
        name, _, value = item.partition("=")
        params[name] = int(value)
    return argv[1], params


def current_rss_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def thread_count():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    return 0


def switches():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_nvcsw, usage.ru_nivcsw


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def percentile(values, q):
    """Nearest-rank quantile, as the C++ side computes it."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def countdown(n):
    """Pure interpreted work: holds the GIL throughout."""
    while n > 0:
        n -= 1


_BLOCK = bytes(range(256)) * 4096  # 1 MiB


def native_hash(rounds):
    """Native work: hashlib releases the GIL for inputs over 2 KiB."""
    for _ in range(rounds):
        hashlib.sha256(_BLOCK).digest()


def calibrate(work, target_s):
    """Units of work(units) that take about target_s seconds of this thread's
    CPU time (not wall time, which counts other processes' turns)."""
    work(1)
    units = 1
    while True:
        start = time.thread_time()
        work(units)
        took = time.thread_time() - start
        if took >= 0.02:
            return max(1, int(units * target_s / took))
        units *= 2


BODY_BYTES = 1256  # the http_fetch server's page, as kHttpBodyBytes


def check_page(status, body):
    """Raises unless a fetch got the whole page with status 200."""
    if status != 200 or len(body) != BODY_BYTES:
        raise RuntimeError("fetch got status %s and %d bytes, expected 200 and %d"
                           % (status, len(body), BODY_BYTES))


def all_fetched(outcomes):
    """Raises RuntimeError("K of N fetches failed; first: ...") if any of
    `outcomes` (None or an exception) failed."""
    failed = [o for o in outcomes if o is not None]
    if failed:
        raise RuntimeError("%d of %d fetches failed; first: %r"
                           % (len(failed), len(outcomes), failed[0]))


def fetch_figures(n, peak_in_flight, wall, rss_growth, threads, cpu):
    return {"wall_s": wall, "fetches_per_s": n / wall,
            "rss_bytes": max(0, rss_growth),
            "bytes_per_fetch": max(0, rss_growth) / max(1, peak_in_flight),
            "threads": threads, "cpu_us_per_fetch": cpu / n * 1e6,
            "peak_in_flight": peak_in_flight}


class InFlight:
    """Counts the fetches under way and the most at once."""

    def __init__(self):
        self.now = self.peak = 0
        self._lock = threading.Lock()

    def __enter__(self):
        with self._lock:
            self.now += 1
            self.peak = max(self.peak, self.now)

    def __exit__(self, *exc):
        with self._lock:
            self.now -= 1


def is_long_task(index, long_pct):
    """pool_starvation: long_pct of every 100 consecutive tasks are long."""
    return (index + 1) * long_pct // 100 > index * long_pct // 100


def starvation_figures(p, latencies_ms):
    short = [l for i, l in enumerate(latencies_ms)
             if not is_long_task(i, p["long_pct"])]
    return {"short_p50_ms": percentile(short, 0.5),
            "short_p99_ms": percentile(short, 0.99),
            "long_tasks": len(latencies_ms) - len(short)}


def emit(metrics):
    print(json.dumps({"metrics": metrics}), flush=True)


def announce_port(port):
    print(json.dumps({"port": port}), flush=True)


def failing_operation():
    """Raises RuntimeError(frames on the stack, user_call frames among them)."""
    stack = traceback.extract_stack()
    user = sum(1 for frame in stack if frame.name == "user_call")
    raise RuntimeError(len(stack), user)


def stack_report(error, depth):
    """The debug_stack figures from failing_operation's RuntimeError."""
    total, user = error.args
    return {"frames_total": total, "user_frames_visible": user,
            "user_frames": depth}


def main(program, runners, run=lambda result: result):
    """Runs the workload named on the command line and prints its figures;
    `run` turns what the runner returns into them (asyncio.run for
    coroutines)."""
    workload, params = parse_args(sys.argv)
    if workload not in runners:
        sys.exit("%s: unsupported workload %r" % (program, workload))
    emit(run(runners[workload](params)))
