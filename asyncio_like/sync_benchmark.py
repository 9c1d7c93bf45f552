"""CPython's side of sync_benchmark.cc: the same workloads on asyncio.

Prints one "name ns_per_op" line per workload, CPU time of this process
(time.process_time) divided by the operations done, best of three runs.

    PYENV_VERSION=3.13.0 python3 asyncio_like/sync_benchmark.py [ITEMS]
"""
import asyncio
import sys
import time


async def producer(q, n):
    for i in range(n):
        await q.put(i)


async def consumer(q, n):
    total = 0
    for _ in range(n):
        total += await q.get()
    return total


async def queue_round(n, maxsize):
    q = asyncio.Queue(maxsize)
    c = asyncio.create_task(consumer(q, n))
    p = asyncio.create_task(producer(q, n))
    await p
    return await c


async def player(cond, state, me, rounds):
    async with cond:
        for _ in range(rounds):
            await cond.wait_for(lambda: state[0] == me)
            state[0] = 1 - me
            cond.notify()


async def condition_round(rounds):
    cond = asyncio.Condition()
    state = [0]
    a = asyncio.create_task(player(cond, state, 0, rounds))
    b = asyncio.create_task(player(cond, state, 1, rounds))
    await a
    await b


def best_ns_per_op(make_coro, ops):
    best = None
    for _ in range(3):
        start = time.process_time()
        asyncio.run(make_coro())
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best * 1e9 / ops


def main():
    items = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for maxsize in (1, 128):
        ns = best_ns_per_op(lambda: queue_round(items, maxsize), items)
        print(f"queue_put_get_maxsize_{maxsize} {ns:.1f}")
    # One op is one hand-over: a notify and the other task waking with the lock.
    ns = best_ns_per_op(lambda: condition_round(items // 2), 2 * (items // 2))
    print(f"condition_notify_wake {ns:.1f}")


if __name__ == "__main__":
    main()
