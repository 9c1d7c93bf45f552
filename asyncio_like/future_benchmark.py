"""CPython's side of future_benchmark.cc: the same workloads on asyncio.

Prints one "name ns_per_op" line per workload, CPU time of this process
(time.process_time) divided by the operations done, best of three runs.

    PYENV_VERSION=3.13.0 python3 asyncio_like/future_benchmark.py [OPS]
"""
import asyncio
import sys
import time


async def future_round_trip(n):
    loop = asyncio.get_running_loop()
    total = 0
    for i in range(n):
        f = loop.create_future()
        loop.call_soon(f.set_result, i)
        total += await f
    return total


async def call_later_arm_cancel(n):
    loop = asyncio.get_running_loop()
    for _ in range(n):
        loop.call_later(3600, print).cancel()


def best_ns_per_op(make_coro, ops):
    best = None
    for _ in range(3):
        start = time.process_time()
        asyncio.run(make_coro())
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best * 1e9 / ops


def main():
    ops = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    print(f"future_round_trip {best_ns_per_op(lambda: future_round_trip(ops), ops):.1f}")
    print(f"call_later_arm_cancel {best_ns_per_op(lambda: call_later_arm_cancel(ops), ops):.1f}")


if __name__ == "__main__":
    main()
