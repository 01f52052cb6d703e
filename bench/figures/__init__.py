"""The figures of ``python -m bench``, in the order of issue 6."""

from __future__ import annotations

from bench.core import Figure
from bench.figures import (
    alerts,
    dashboard,
    freshness,
    ingest,
    memory,
    producers,
    rankings,
    validation,
)

FIGURES: list[Figure] = [
    *ingest.FIGURES,
    *freshness.FIGURES,
    *producers.FIGURES,
    *rankings.FIGURES,
    *memory.FIGURES,
    *validation.FIGURES,
    *alerts.FIGURES,
    *dashboard.FIGURES,
]
