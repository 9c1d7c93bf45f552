"""The workloads on CPython's asyncio: one thread, one event loop.

Usage: python3 cpython_asyncio.py WORKLOAD name=value ...
Prints {"metrics": {...}} (see workload_common.py). The regions between
"[readability:...]" and "[end]" are what the report counts as the lines a
user writes for that workload.
"""

import asyncio
import time

import workload_common as common


# [readability:io_fanout]
async def io_fanout(n, wait_s, on_all_started):
    started = 0

    async def one_wait():
        nonlocal started
        started += 1
        if started == n:
            on_all_started()
        await asyncio.sleep(wait_s)

    await asyncio.gather(*(one_wait() for _ in range(n)))
# [end]


async def run_io_fanout(p):
    n, wait_s = p["n"], p["wait_ms"] / 1000
    peak = {}

    def on_all_started():
        peak["threads"] = common.thread_count()

    rss_before = common.current_rss_bytes()
    start = time.perf_counter()
    await io_fanout(n, wait_s, on_all_started)
    wall = time.perf_counter() - start
    rss = max(0, common.peak_rss_bytes() - rss_before)
    return {"wall_s": wall, "rss_bytes": rss, "bytes_per_task": rss / n,
            "us_per_task": max(0.0, wall - wait_s) / n * 1e6,
            "threads": peak["threads"]}


# [readability:tcp_echo]
async def echo_server(connections, on_listening):
    finished = asyncio.Event()
    closed = 0

    async def handle(reader, writer):
        nonlocal closed
        while data := await reader.read(4096):
            writer.write(data)
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        closed += 1
        if closed == connections:
            finished.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=4096)
    on_listening(server.sockets[0].getsockname()[1])
    await finished.wait()
    server.close()
    await server.wait_closed()
# [end]


async def run_tcp_echo(p):
    cpu_before = common.cpu_seconds()
    await echo_server(p["connections"], common.announce_port)
    cpu = common.cpu_seconds() - cpu_before
    return {"server_cpu_us_per_request": cpu / p["requests"] * 1e6}


# [readability:http_fetch]
async def fetch_page(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                 b"Connection: close\r\n\r\n")
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = response.partition(b"\r\n\r\n")
    common.check_page(int(head.split(b" ", 2)[1]), body)


async def fetch_all(n, port, in_flight):
    async def counted():
        with in_flight:
            await fetch_page(port)

    return await asyncio.gather(*(counted() for _ in range(n)),
                                return_exceptions=True)
# [end]


async def run_http_fetch(p):
    n = p["n"]
    if p["workers"] < n:
        raise SystemExit("the asyncio model gathers every fetch: workers must be n")
    rss_before = common.current_rss_bytes()
    cpu_before = common.cpu_seconds()
    start = time.perf_counter()
    # Every wait has a deadline: a fetch stuck on the server fails the run.
    in_flight = common.InFlight()
    outcomes = await asyncio.wait_for(fetch_all(n, p["port"], in_flight), timeout=100)
    wall = time.perf_counter() - start
    common.all_fetched(outcomes)
    return common.fetch_figures(n, in_flight.peak, wall,
                                common.peak_rss_bytes() - rss_before,
                                common.thread_count(),
                                common.cpu_seconds() - cpu_before)


async def run_pool_starvation(p):
    tasks = p["rate_per_s"] * p["window_ms"] // 1000
    gap = 1 / p["rate_per_s"]
    latencies = [0.0] * tasks

    async def timed_wait(i, arrival, wait):
        await asyncio.sleep(wait)
        latencies[i] = (time.perf_counter() - arrival) * 1000

    running = []
    start = time.perf_counter()
    for i in range(tasks):
        arrival = start + i * gap
        await asyncio.sleep(max(0, arrival - time.perf_counter()))
        wait = p["long_ms"] if common.is_long_task(i, p["long_pct"]) else p["short_ms"]
        running.append(asyncio.create_task(timed_wait(i, arrival, wait / 1000)))
    await asyncio.gather(*running)
    return common.starvation_figures(p, latencies)


async def run_cpu(p, work):
    units = common.calibrate(work, p["work_ms"] / 1000)

    async def task():
        work(units)

    start = time.perf_counter()
    for _ in range(p["tasks"]):
        await task()
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(*(task() for _ in range(p["tasks"])))
    concurrent = time.perf_counter() - start
    return {"sequential_s": sequential, "concurrent_s": concurrent,
            "speedup": sequential / concurrent}


async def probe_lags(count):
    lags = []
    for _ in range(count):
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append((time.perf_counter() - start - 0.001) * 1000)
    return lags


async def run_mixed(p):
    slice_units = common.calibrate(common.countdown, p["slice_ms"] / 1000)
    idle = await probe_lags(p["probes"])
    running = True

    async def cpu_task():
        while running:
            common.countdown(slice_units)
            await asyncio.sleep(0)  # the only point where others may run

    cpu = asyncio.create_task(cpu_task())
    await asyncio.sleep(0)
    lags = await probe_lags(p["probes"])
    running = False
    await cpu
    return {"idle_lag_p50_ms": common.percentile(idle, 0.5),
            "lag_p50_ms": common.percentile(lags, 0.5),
            "lag_p99_ms": common.percentile(lags, 0.99)}


async def ticker(ticks):
    gaps = []
    last = time.perf_counter()
    for _ in range(ticks):
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        gaps.append((now - last) * 1000)
        last = now
    return gaps


async def run_blocking_call(p):
    async def blocking_library_call():
        await asyncio.sleep(0.02)
        time.sleep(p["block_ms"] / 1000)  # a synchronous library call

    gaps, _ = await asyncio.gather(ticker(p["ticks"]), blocking_library_call())
    return {"stall_ms": max(gaps) - 1, "max_gap_ms": max(gaps)}


async def run_thread_scaling(p):
    threads, tasks, op_s = p["threads"], p["tasks"], p["op_ms"] / 1000
    rss_before = common.current_rss_bytes()
    switches_before = common.switches()
    peak = {}

    async def worker(count):
        for _ in range(count):
            await asyncio.sleep(op_s)

    shares = [tasks // threads + (1 if i < tasks % threads else 0)
              for i in range(threads)]
    start = time.perf_counter()
    workers = [asyncio.create_task(worker(s)) for s in shares]
    await asyncio.sleep(0)
    peak["threads"] = common.thread_count()
    await asyncio.gather(*workers)
    wall = time.perf_counter() - start
    voluntary, involuntary = common.switches()
    return {"wall_s": wall,
            "rss_bytes": max(0, common.peak_rss_bytes() - rss_before),
            "threads": peak["threads"],
            "voluntary_switches": voluntary - switches_before[0],
            "involuntary_switches": involuntary - switches_before[1]}


async def user_call(remaining):
    if remaining == 1:
        await asyncio.sleep(0.001)
        return common.failing_operation()
    return await user_call(remaining - 1)


async def run_debug_stack(p):
    try:
        await user_call(p["depth"])
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
    common.main("cpython_asyncio", RUNNERS, asyncio.run)
