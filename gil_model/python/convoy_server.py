"""Echo server on loopback, optionally beside a CPU-bound thread.

The pure-Python counterpart of experiment 2 of //gil_model:experiments.
Usage: python3 convoy_server.py SWITCH_INTERVAL_MS (cpu|nocpu)
Prints "port=N" once it listens, serves one connection (echoing each
request until the client closes it), then exits. The client measures the
round trips from another process.
"""

import socket
import sys
import threading

running = True


def burn():
    # Pure bytecode: every iteration passes an eval-breaker check.
    n = 0
    while running:
        n += 1


def main():
    global running
    sys.setswitchinterval(float(sys.argv[1]) / 1000.0)
    with_cpu = sys.argv[2] == "cpu"

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    cpu = threading.Thread(target=burn, daemon=True)
    if with_cpu:
        cpu.start()
    print(f"port={listener.getsockname()[1]}", flush=True)

    conn, _ = listener.accept()
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        data = conn.recv(64)  # releases the GIL while it blocks
        if not data:
            break
        conn.sendall(data)    # releases the GIL while it sends
    conn.close()
    listener.close()

    running = False
    if with_cpu:
        cpu.join()


if __name__ == "__main__":
    main()
