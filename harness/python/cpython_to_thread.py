"""The workloads on CPython's asyncio offloading work with asyncio.to_thread.

The event loop keeps the I/O; CPU work and blocking calls go to the loop's
default ThreadPoolExecutor. Usage and output as cpython_asyncio.py.
"""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import workload_common as common
from cpython_asyncio import probe_lags, ticker


async def run_pool_starvation(p):
    """Each arriving task is a blocking call offloaded with asyncio.to_thread
    to the loop's default executor, sized as the pool it compares with."""
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=p["workers"]))
    tasks = p["rate_per_s"] * p["window_ms"] // 1000
    gap = 1 / p["rate_per_s"]
    latencies = [0.0] * tasks

    async def offloaded(i, arrival, block):
        await asyncio.to_thread(time.sleep, block)
        latencies[i] = (time.perf_counter() - arrival) * 1000

    running = []
    start = time.perf_counter()
    for i in range(tasks):
        arrival = start + i * gap
        await asyncio.sleep(max(0, arrival - time.perf_counter()))
        block = p["long_ms"] if common.is_long_task(i, p["long_pct"]) else p["short_ms"]
        running.append(asyncio.create_task(offloaded(i, arrival, block / 1000)))
    await asyncio.gather(*running)
    return common.starvation_figures(p, latencies)


async def run_cpu(p, work):
    units = common.calibrate(work, p["work_ms"] / 1000)
    start = time.perf_counter()
    for _ in range(p["tasks"]):
        await asyncio.to_thread(work, units)
    sequential = time.perf_counter() - start
    start = time.perf_counter()
    await asyncio.gather(
        *(asyncio.to_thread(work, units) for _ in range(p["tasks"])))
    concurrent = time.perf_counter() - start
    return {"sequential_s": sequential, "concurrent_s": concurrent,
            "speedup": sequential / concurrent}


async def run_mixed(p):
    slice_units = common.calibrate(common.countdown, p["slice_ms"] / 1000)
    idle = await probe_lags(p["probes"])
    running = threading.Event()
    running.set()

    def cpu_task():
        while running.is_set():
            common.countdown(slice_units)

    cpu = asyncio.create_task(asyncio.to_thread(cpu_task))
    await asyncio.sleep(0)
    lags = await probe_lags(p["probes"])
    running.clear()
    await cpu
    return {"idle_lag_p50_ms": common.percentile(idle, 0.5),
            "lag_p50_ms": common.percentile(lags, 0.5),
            "lag_p99_ms": common.percentile(lags, 0.99)}


async def run_blocking_call(p):
    async def blocking_library_call():
        await asyncio.sleep(0.02)
        await asyncio.to_thread(time.sleep, p["block_ms"] / 1000)

    gaps, _ = await asyncio.gather(ticker(p["ticks"]), blocking_library_call())
    return {"stall_ms": max(gaps) - 1, "max_gap_ms": max(gaps)}


def blocking_step():
    time.sleep(0.001)
    return common.failing_operation()


async def user_call(remaining):
    if remaining == 1:
        return await asyncio.to_thread(blocking_step)
    return await user_call(remaining - 1)


async def run_debug_stack(p):
    try:
        await user_call(p["depth"])
    except RuntimeError as error:
        return common.stack_report(error, p["depth"])
    raise AssertionError("the failing operation did not fail")


RUNNERS = {
    "cpu_pure": lambda p: run_cpu(p, common.countdown),
    "cpu_native": lambda p: run_cpu(p, common.native_hash),
    "mixed": run_mixed,
    "blocking_call": run_blocking_call,
    "debug_stack": run_debug_stack,
    "pool_starvation": run_pool_starvation,
}


if __name__ == "__main__":
    common.main("cpython_to_thread", RUNNERS, asyncio.run)
