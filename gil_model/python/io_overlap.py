"""N threads that each block on I/O (a sleep) once.

The pure-Python counterpart of experiment 3 of //gil_model:experiments.
Usage: python3 io_overlap.py THREADS WAIT_MS
time.sleep releases the GIL, so the waits overlap: the wall time is about
one wait, not THREADS waits. Prints one line of key=value pairs.
"""

import sys
import threading
import time


def main():
    threads = int(sys.argv[1])
    wait = float(sys.argv[2]) / 1000.0

    def worker():
        total = sum(range(1000))  # a little bytecode before and after
        time.sleep(wait)
        return total + sum(range(1000))

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    start = time.perf_counter()
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    print(f"wall_s={time.perf_counter() - start:.6f}", flush=True)


if __name__ == "__main__":
    main()
