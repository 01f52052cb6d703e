"""The figures of ``python -m bench``, in the order of issue 6."""

from __future__ import annotations

from bench.core import Figure

FIGURES: list[Figure] = []
