"""CPython's side of stream_benchmark.cc: the same line reading on asyncio.

Prints one "name ns_per_line" line per workload, CPU time of this process
(time.process_time) divided by the lines read, best of three runs.

    PYENV_VERSION=3.13.0 python3 asyncio_like/stream_benchmark.py [LINES]
"""
import asyncio
import sys
import time

LINE = b"x" * 63 + b"\n"


async def read_lines(reader, use_readuntil):
    count = 0
    while True:
        if use_readuntil:
            try:
                await reader.readuntil(b"\n")
            except asyncio.IncompleteReadError:
                return count
        else:
            if not await reader.readline():
                return count
        count += 1


async def loopback_round(lines, use_readuntil):
    payload = LINE * lines

    async def send_lines(reader, writer):
        writer.write(payload)
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(send_lines, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    count = await read_lines(reader, use_readuntil)
    assert count == lines, count
    writer.close()
    await writer.wait_closed()
    server.close()
    await server.wait_closed()


async def fed_round(lines):
    reader = asyncio.StreamReader()
    reader.feed_data(LINE * lines)
    reader.feed_eof()
    count = await read_lines(reader, False)
    assert count == lines, count


def best_ns_per_line(make_coro, lines):
    best = None
    for _ in range(3):
        start = time.process_time()
        asyncio.run(make_coro())
        elapsed = time.process_time() - start
        best = elapsed if best is None else min(best, elapsed)
    return best * 1e9 / lines


def main():
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    ns = best_ns_per_line(lambda: loopback_round(lines, False), lines)
    print(f"read_line_loopback {ns:.1f}")
    ns = best_ns_per_line(lambda: loopback_round(lines, True), lines)
    print(f"read_until_newline_loopback {ns:.1f}")
    ns = best_ns_per_line(lambda: fed_round(lines), lines)
    print(f"read_line_fed {ns:.1f}")


if __name__ == "__main__":
    main()
