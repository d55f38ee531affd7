"""HTTP/1.1 over a plain socket, byte for byte, for the tests of the door: requests no client
library would send, connections held open, and when the server closes them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

HOST = "127.0.0.1"
READ_SECONDS = 30.0


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    """Names lowercased; a repeated header's last value."""
    body: bytes


def http_request(
    target: bytes,
    headers: dict[bytes, bytes] | None = None,
    *,
    method: bytes = b"GET",
    keep_alive: bool = False,
) -> bytes:
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + HOST.encode()]
    lines += [name + b": " + value for name, value in (headers or {}).items()]
    lines.append(b"Connection: " + (b"keep-alive" if keep_alive else b"close"))
    return b"\r\n".join(lines) + b"\r\n\r\n"


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection(HOST, port)


async def read_answer(reader: asyncio.StreamReader, *, head_only: bool = False) -> Answer:
    """One response, its body as long as its Content-Length says (none to a HEAD)."""
    async with asyncio.timeout(READ_SECONDS):
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = 0 if head_only else int(headers.get("content-length", "0"))
        body = await reader.readexactly(length)
    return Answer(int(status_line.split(" ")[1]), headers, body)


async def exchange(port: int, raw: bytes, *, head_only: bool = False) -> Answer:
    """Sends `raw` on a new connection and reads the one response, which must be all the
    server sends before it closes (the request says Connection: close, or is not HTTP)."""
    reader, writer = await connect(port)
    try:
        writer.write(raw)
        await writer.drain()
        answer = await read_answer(reader, head_only=head_only)
        async with asyncio.timeout(READ_SECONDS):
            rest = await reader.read()
        assert rest == b"", f"bytes after the response: {rest[:100]!r}"
        return answer
    finally:
        writer.close()


async def closed(reader: asyncio.StreamReader) -> bytes:
    """Returns what the server sent once it has closed the connection."""
    received = bytearray()
    try:
        while data := await reader.read(65536):
            received += data
    except ConnectionResetError:
        pass
    return bytes(received)
