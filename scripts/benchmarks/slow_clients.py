"""Slow clients against the connection caps: 2,000 clients from one address (as behind a proxy)
each open a connection and dribble a request head a byte every few seconds, while a legitimate
client (curl) sends 200 requests promptly, each on a new connection with a 5 s deadline. Reports the
share served and their latency, with the default caps (server.max_connections 1024); once with
server.max_connections_per_address 256 too.

    .venv/bin/python scripts/benchmarks/slow_clients.py
"""
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from foundation import BIN  # noqa: E402

SLOW = 2000
LEGITIMATE = 200


def start(data_dir, *flags):
    proc = subprocess.Popen([BIN, "serve", "--port", "0", "--data-dir", data_dir, *flags], cwd=os.path.dirname(data_dir),
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return proc, int(proc.stdout.readline().strip().rsplit(":", 1)[1])


async def dribbler(port, stop):
    """Reconnects whenever the server closes it, and sends one byte of a head every 2 s."""
    head = b"GET /healthz HTTP/1.1\r\nHost: slow\r\nX-Slow: " + b"a" * 4000
    while not stop.is_set():
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.5)
            continue
        try:
            for byte in head:
                if stop.is_set() or reader.at_eof():
                    break
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(2)
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def legitimate(port):
    """One prompt request by curl, a process of its own as a real client is (the dribblers' event
    loop would otherwise delay its writes): status and seconds, with a 5 s deadline."""
    curl = await asyncio.create_subprocess_exec(
        "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}", "--max-time", "5",
        "-H", "Connection: close", f"http://127.0.0.1:{port}/healthz",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)
    out, _ = await curl.communicate()
    code, seconds = (out.decode().split() + ["000", "5"])[:2]
    return code == "200", float(seconds)


async def run(port):
    stop = asyncio.Event()
    slow = [asyncio.create_task(dribbler(port, stop)) for _ in range(SLOW)]
    await asyncio.sleep(5)
    results = []
    for _ in range(LEGITIMATE):
        results.append(await legitimate(port))
        await asyncio.sleep(0.05)
    stop.set()
    await asyncio.gather(*slow, return_exceptions=True)
    return results


def main():
    with tempfile.TemporaryDirectory(prefix="quantd-slow-") as work:
        for label, flags in (("max_connections 1024", ()),
                             ("and max_connections_per_address 256", ("--set", "server.max_connections_per_address=256"))):
            proc, port = start(os.path.join(work, f"data-{len(flags)}"), *flags)
            try:
                results = asyncio.run(run(port))
            finally:
                proc.terminate()
                proc.wait(timeout=60)
            served = [seconds for ok, seconds in results if ok]
            print(f"{SLOW} slow clients on one address, {label}: {len(served)}/{len(results)} legitimate requests served "
                  f"({100 * len(served) / len(results):.0f}%), latency median {1000 * statistics.median(served):.1f} ms, "
                  f"max {1000 * max(served):.1f} ms" if served else f"{label}: none served")


if __name__ == "__main__":
    sys.exit(main())
