"""The workloads on CPython's threads: concurrent.futures.ThreadPoolExecutor.

Usage: python3 cpython_threads.py WORKLOAD name=value ...
Prints {"metrics": {...}} (see workload_common.py). The regions between
"[readability:...]" and "[end]" are what the report counts as the lines a
user writes for that workload.
"""

import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import workload_common as common


# [readability:io_fanout]
def io_fanout(n, wait_s, max_threads, on_all_started):
    started = 0
    lock = threading.Lock()

    def one_wait():
        nonlocal started
        with lock:
            started += 1
            if started == n:
                on_all_started()
        time.sleep(wait_s)

    with ThreadPoolExecutor(max_workers=min(n, max_threads)) as pool:
        for future in [pool.submit(one_wait) for _ in range(n)]:
            future.result()
# [end]


def run_io_fanout(p):
    n, wait_s = p["n"], p["wait_ms"] / 1000
    peak = {}

    def on_all_started():
        peak["threads"] = common.thread_count()

    rss_before = common.current_rss_bytes()
    start = time.perf_counter()
    io_fanout(n, wait_s, p["max_threads"], on_all_started)
    wall = time.perf_counter() - start
    rss = max(0, common.peak_rss_bytes() - rss_before)
    return {"wall_s": wall, "rss_bytes": rss, "bytes_per_task": rss / n,
            "us_per_task": max(0.0, wall - wait_s) / n * 1e6,
            "threads": peak["threads"]}


# [readability:tcp_echo]
def echo_server(connections, on_listening):
    def handle(conn):
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(4096):
                conn.sendall(data)

    with socket.create_server(("127.0.0.1", 0), backlog=4096) as listener:
        on_listening(listener.getsockname()[1])
        with ThreadPoolExecutor(max_workers=connections) as pool:
            for _ in range(connections):
                conn, _ = listener.accept()
                pool.submit(handle, conn)
# [end]


def run_tcp_echo(p):
    cpu_before = common.cpu_seconds()
    echo_server(p["connections"], common.announce_port)
    cpu = common.cpu_seconds() - cpu_before
    return {"server_cpu_us_per_request": cpu / p["requests"] * 1e6}


# [readability:http_fetch]
def fetch_page(port):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        common.check_page(response.status, response.read())
    finally:
        conn.close()


def fetch_all(n, port, workers, in_flight):
    def counted():
        with in_flight:
            fetch_page(port)

    outcomes = []
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(counted) for _ in range(n)]:
            outcomes.append(future.exception())
        threads = common.thread_count()
    return outcomes, threads
# [end]


def run_http_fetch(p):
    n = p["n"]
    rss_before = common.current_rss_bytes()
    cpu_before = common.cpu_seconds()
    start = time.perf_counter()
    try:
        in_flight = common.InFlight()
        outcomes, threads = fetch_all(n, p["port"], p["workers"], in_flight)
    except RuntimeError as error:  # "can't start new thread"
        raise SystemExit("could not start %d threads: %s" % (p["workers"], error))
    wall = time.perf_counter() - start
    common.all_fetched(outcomes)
    return common.fetch_figures(n, in_flight.peak, wall,
                                common.peak_rss_bytes() - rss_before, threads,
                                common.cpu_seconds() - cpu_before)


def starvation_on(pool, p):
    """Submits the stream on schedule; each task reports its latency."""
    tasks = p["rate_per_s"] * p["window_ms"] // 1000
    gap = 1 / p["rate_per_s"]
    latencies = [0.0] * tasks

    def blocking_task(i, arrival, block):
        time.sleep(block)
        latencies[i] = (time.perf_counter() - arrival) * 1000

    futures = []
    start = time.perf_counter()
    for i in range(tasks):
        arrival = start + i * gap
        time.sleep(max(0, arrival - time.perf_counter()))
        block = p["long_ms"] if common.is_long_task(i, p["long_pct"]) else p["short_ms"]
        futures.append(pool.submit(blocking_task, i, arrival, block / 1000))
    for future in futures:
        future.result()
    return common.starvation_figures(p, latencies)


def run_pool_starvation(p):
    with ThreadPoolExecutor(max_workers=p["workers"]) as pool:
        return starvation_on(pool, p)


def run_cpu(p, work):
    units = common.calibrate(work, p["work_ms"] / 1000)
    start = time.perf_counter()
    for _ in range(p["tasks"]):
        work(units)
    sequential = time.perf_counter() - start
    with ThreadPoolExecutor(max_workers=p["tasks"]) as pool:
        start = time.perf_counter()
        for future in [pool.submit(work, units) for _ in range(p["tasks"])]:
            future.result()
        concurrent = time.perf_counter() - start
    return {"sequential_s": sequential, "concurrent_s": concurrent,
            "speedup": sequential / concurrent}


def probe_lags(count):
    lags = []
    for _ in range(count):
        start = time.perf_counter()
        time.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)
    return lags


def run_mixed(p):
    slice_units = common.calibrate(common.countdown, p["slice_ms"] / 1000)
    idle = probe_lags(p["probes"])
    running = threading.Event()
    running.set()

    def cpu_task():
        while running.is_set():
            common.countdown(slice_units)

    with ThreadPoolExecutor(max_workers=2) as pool:
        cpu = pool.submit(cpu_task)
        lags = pool.submit(probe_lags, p["probes"]).result()
        running.clear()
        cpu.result()
    return {"idle_lag_p50_ms": common.percentile(idle, 0.5),
            "lag_p50_ms": common.percentile(lags, 0.5),
            "lag_p99_ms": common.percentile(lags, 0.99)}


def ticker(ticks):
    gaps = []
    last = time.perf_counter()
    for _ in range(ticks):
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
    return gaps


def run_blocking_call(p):
    def blocking_library_call():
        time.sleep(0.02)
        time.sleep(p["block_ms"] / 1000)  # a synchronous library call

    with ThreadPoolExecutor(max_workers=2) as pool:
        gaps = pool.submit(ticker, p["ticks"])
        pool.submit(blocking_library_call).result()
        gaps = gaps.result()
    return {"stall_ms": max(gaps) - 1, "max_gap_ms": max(gaps)}


def run_thread_scaling(p):
    threads, tasks, op_s = p["threads"], p["tasks"], p["op_ms"] / 1000
    rss_before = common.current_rss_bytes()
    switches_before = common.switches()
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(time.sleep, op_s) for _ in range(tasks)]:
            future.result()
        thread_count = common.thread_count()
    wall = time.perf_counter() - start
    voluntary, involuntary = common.switches()
    return {"wall_s": wall,
            "rss_bytes": max(0, common.peak_rss_bytes() - rss_before),
            "threads": thread_count,
            "voluntary_switches": voluntary - switches_before[0],
            "involuntary_switches": involuntary - switches_before[1]}


def user_call(remaining):
    if remaining == 1:
        time.sleep(0.001)
        return common.failing_operation()
    return user_call(remaining - 1)


def run_debug_stack(p):
    with ThreadPoolExecutor(max_workers=1) as pool:
        try:
            pool.submit(user_call, p["depth"]).result()
        except RuntimeError as error:
            return common.stack_report(error, p["depth"])
    raise AssertionError("the failing operation did not fail")


RUNNERS = {
    "io_fanout": run_io_fanout,
    "tcp_echo": run_tcp_echo,
    "cpu_pure": lambda p: run_cpu(p, common.countdown),
    "cpu_native": lambda p: run_cpu(p, common.native_hash),
    "mixed": run_mixed,
    "blocking_call": run_blocking_call,
    "thread_scaling": run_thread_scaling,
    "debug_stack": run_debug_stack,
    "http_fetch": run_http_fetch,
    "many_connections": run_tcp_echo,
    "pool_starvation": run_pool_starvation,
}


if __name__ == "__main__":
    common.main("cpython_threads", RUNNERS)
