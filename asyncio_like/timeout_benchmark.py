"""CPython's side of timeout_benchmark.cc: a million timers each way on asyncio.

Prints one "name ns_per_timer" line per workload, CPU time of this process
(time.process_time) divided by the timers, best of three runs.

    PYENV_VERSION=3.13.0 python3 asyncio_like/timeout_benchmark.py [TIMERS]
"""
import asyncio
import sys
import time


async def timeout_reschedule(n):
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(5) as timeout:
        base = loop.time() + 5
        for i in range(n):
            timeout.reschedule(base + i * 1e-9)
    return n


async def quick(v):
    return v


async def timeout_scope_cancelled(n):
    total = 0
    for _ in range(n):
        async with asyncio.timeout(5):
            total += await quick(1)
    return total


async def timers_fired(n):
    loop = asyncio.get_running_loop()
    fired = 0

    def fire():
        nonlocal fired
        fired += 1

    base = loop.time()
    for i in range(n):
        loop.call_at(base + (i * 7919) % 10_000_000 * 1e-9, fire)
    await asyncio.sleep(0.011)
    return fired


def best_ns_per_timer(make_coro, n):
    best = None
    for _ in range(3):
        start = time.process_time()
        done = asyncio.run(make_coro(n))
        elapsed = time.process_time() - start
        if done != n:
            raise SystemExit(f"{make_coro.__name__}: {done} of {n} timers")
        best = elapsed if best is None else min(best, elapsed)
    return best * 1e9 / n


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for workload in (timeout_reschedule, timeout_scope_cancelled, timers_fired):
        print(f"{workload.__name__} {best_ns_per_timer(workload, n):.1f}")


if __name__ == "__main__":
    main()
