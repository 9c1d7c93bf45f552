"""CPython's side of subprocess_benchmark.cc: spawn and wait for /bin/true,
COUNT times, CONCURRENCY at a time, with asyncio.create_subprocess_exec.

Prints "spawn_wait_true <wall ns per process>", the best of REPEATS runs.

    PYENV_VERSION=3.13.0 python3 asyncio_like/subprocess_benchmark.py [COUNT CONCURRENCY REPEATS]
"""
import asyncio
import sys
import time


async def worker(n):
    for _ in range(n):
        proc = await asyncio.create_subprocess_exec("/bin/true")
        if await proc.wait() != 0:
            raise RuntimeError("/bin/true failed")


async def spawn_all(count, concurrency):
    await asyncio.gather(*(worker(count // concurrency) for _ in range(concurrency)))


def main():
    count, concurrency, repeats = (int(a) for a in (sys.argv[1:4] or (1000, 50, 5)))
    best = None
    for _ in range(repeats):
        start = time.perf_counter()
        asyncio.run(spawn_all(count, concurrency))
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    print(f"spawn_wait_true {best * 1e9 / count:.1f}")


if __name__ == "__main__":
    main()
