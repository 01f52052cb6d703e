"""Strict, bounded JSON: the one parser for bytes that come from devices and the network.

Both the stream worker (``hailong.contract.parse_event``) and the HTTP services
(``hailong.http``) read untrusted JSON through :func:`loads`. Whatever the bytes, it
returns a value or raises :class:`JsonRefused` (a ``ValueError``) with a reason that
never quotes the input: no ``RecursionError`` from deep nesting, no ``ValueError`` from
Python's 4,300-digit integer limit, no float overflow, no unbounded memory.

Limits (a valid event is a few hundred bytes, nested two levels):
``MAX_BYTES`` of input, ``MAX_NUMBER_CHARS`` per number. Nesting deeper than Python's
recursion allows is refused as such.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_BYTES = 64 * 1024
MAX_NUMBER_CHARS = 40  # a 64-bit integer has at most 20; a double needs no more than 25


class JsonRefused(ValueError):
    """The bytes are not JSON this platform accepts; the message says why. ``unquoted``
    says it without any of the input (for answers to HTTP clients, which must never
    echo a payload back)."""

    def __init__(self, message: str, unquoted: str | None = None) -> None:
        super().__init__(message)
        self.unquoted = unquoted or message


def _pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for k, v in items:
        if k in obj:
            raise JsonRefused(f"duplicate JSON key {k[:64]!r}", "a duplicate JSON key")
        obj[k] = v
    return obj


def _constant(name: str) -> float:
    raise JsonRefused(f"{name} is not a JSON number")


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonRefused(f"a number of {len(text)} characters (at most {MAX_NUMBER_CHARS})")
    value = float(text)
    if math.isinf(value):
        raise JsonRefused(f"number {text} is out of range", "a number out of range")
    return value


def loads(raw: bytes, what: str = "value", max_bytes: int | None = MAX_BYTES) -> Any:
    """Parse ``raw`` (UTF-8 JSON, no BOM); ``what`` names it in reasons ("value", "the
    body"). ``max_bytes=None``: the caller has bounded the size already."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise JsonRefused(f"{what} is {len(raw):,} bytes (at most {max_bytes:,})")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise JsonRefused(f"{what} starts with a UTF-8 byte order mark")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_constant=_constant,
            parse_int=_int,
            parse_float=_float,
        )
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"{what} is not JSON: {exc.msg} at char {exc.pos}") from None
    except RecursionError:
        raise JsonRefused(f"{what} is nested too deeply") from None
