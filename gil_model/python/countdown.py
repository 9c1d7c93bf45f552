"""CPU-bound countdown, twice sequentially and then in two threads.

The pure-Python counterpart of experiment 1 of //gil_model:experiments.
Usage: python3 countdown.py ITERATIONS REPEATS
Prints one line of key=value pairs: the best of REPEATS runs of each, in
wall-clock seconds, and the CPU time of one loop iteration (the time between
two eval-breaker checks), from the sequential runs.
"""

import sys
import threading
import time


def countdown(n):
    while n > 0:
        n -= 1


def sequential(n):
    """Returns (wall seconds, CPU seconds) of two countdowns in a row."""
    start, start_cpu = time.perf_counter(), time.process_time()
    countdown(n)
    countdown(n)
    return time.perf_counter() - start, time.process_time() - start_cpu


def threaded(n):
    threads = [threading.Thread(target=countdown, args=(n,)) for _ in range(2)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - start


def main():
    n = int(sys.argv[1])
    repeats = int(sys.argv[2])
    runs = [sequential(n) for _ in range(repeats)]
    best_sequential = min(wall for wall, _ in runs)
    best_cpu = min(cpu for _, cpu in runs)
    best_threaded = min(threaded(n) for _ in range(repeats))
    # The iteration's cost in CPU time: on a shared machine the wall clock
    # also counts time this process was not running at all.
    print(f"sequential_s={best_sequential:.6f} threaded_s={best_threaded:.6f} "
          f"ns_per_iteration={best_cpu / (2 * n) * 1e9:.2f}", flush=True)


if __name__ == "__main__":
    main()
