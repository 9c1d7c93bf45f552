"""CPython's side of round_trip_benchmark.cc: 100,000 times in a row,
`await loop.run_in_executor(pool, noop)` on a ThreadPoolExecutor of one
worker; prints p50/p99 per trip and trips per second."""

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor

TRIPS = 100_000


def noop():
    pass


async def trips(pool):
    loop = asyncio.get_running_loop()
    nanos = []
    for _ in range(TRIPS):
        start = time.perf_counter_ns()
        await loop.run_in_executor(pool, noop)
        nanos.append(time.perf_counter_ns() - start)
    return nanos


def main():
    with ThreadPoolExecutor(max_workers=1) as pool:
        start = time.perf_counter()
        nanos = asyncio.run(trips(pool))
        seconds = time.perf_counter() - start
    nanos.sort()
    print(f"cpython run_in_executor round trip: p50_us={nanos[len(nanos) // 2] / 1e3:.1f} "
          f"p99_us={nanos[len(nanos) * 99 // 100] / 1e3:.1f} "
          f"trips_per_s={TRIPS / seconds:.0f}")


if __name__ == "__main__":
    main()
