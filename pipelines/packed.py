"""Rows of equal length packed in one buffer: what a unit's counted QR submissions are
kept as for the bootstrap (``pipelines/bootstrap.py``: ``UnitSample.submissions``).

A tuple of bytes costs about 64 bytes a row in Python objects besides its data; a
month of a city's millions of submissions (22 bytes each) is kept here in one ``bytes``
(bench figure 6), pickled as such (Dagster keeps the inputs between the assets; the
bootstrap's processes receive them), and read back as a numpy array without a copy.
It is a sequence of the rows as ``bytes``, equal to the tuple of the same rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, overload


class Rows(Sequence[bytes]):
    """``data`` cut into rows of ``width`` bytes (``width`` 0: ``count`` empty rows)."""

    __slots__ = ("data", "n", "width")

    def __init__(self, data: bytes, width: int, count: int | None = None) -> None:
        if width < 0 or (width and len(data) % width) or (not width and data):
            raise ValueError("rows must all be `width` bytes long")
        self.data, self.width = bytes(data), width
        self.n = len(data) // width if width else (count or 0)

    @classmethod
    def of(cls, rows: Sequence[bytes]) -> Rows:
        """The rows, in their order (each as long as the first)."""
        width = len(rows[0]) if rows else 0
        if any(len(r) != width for r in rows):
            raise ValueError("rows of different lengths")
        return cls(b"".join(rows), width, len(rows))

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> tuple[bytes, ...]: ...
    def __getitem__(self, i: int | slice) -> bytes | tuple[bytes, ...]:
        if isinstance(i, slice):
            return tuple(self[j] for j in range(*i.indices(self.n)))
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i %= self.n
        return self.data[i * self.width : (i + 1) * self.width]

    def __iter__(self) -> Iterator[bytes]:
        w = self.width
        return (self.data[i * w : (i + 1) * w] for i in range(self.n))

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, Rows):
            return (self.data, self.width, self.n) == (other.data, other.width, other.n)
        if isinstance(other, tuple):
            return tuple(self) == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Rows({self.n} rows of {self.width} bytes)"

    def __reduce__(self) -> tuple[Any, ...]:
        return (Rows, (self.data, self.width, self.n))
