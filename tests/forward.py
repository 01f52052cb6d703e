"""A TCP forwarder (test plumbing of tests/netns.py): every connection accepted on
``--bind``:port is carried to ``--to``:port, for each port given.

    python -m tests.forward --bind 10.231.0.1 --to 127.0.0.1 19210 19300

It prints ``ready`` once it listens on every port, and runs until it is killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError):
            writer.close()


async def _serve(bind: str, to: str, ports: list[int]) -> None:
    async def handler(
        port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(to, port)
        except OSError:
            writer.close()
            return
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))

    servers = [
        await asyncio.start_server(
            lambda r, w, p=port: handler(p, r, w), bind, port, reuse_address=True
        )
        for port in ports
    ]
    print("ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--to", required=True)
    parser.add_argument("ports", nargs="+", type=int)
    args = parser.parse_args()
    asyncio.run(_serve(args.bind, args.to, args.ports))


if __name__ == "__main__":
    main()
