"""The figures of ``python -m bench``, in the order of issue 6; the runtime's ceiling
and the raw loops (3b, 3r) and the worker in several processes (3p) of issue 17 follow
figure 3, then the worker on the cluster profile (3c) of issue 18."""

from __future__ import annotations

from bench.core import Figure
from bench.figures import (
    alerts,
    cluster,
    dashboard,
    freshness,
    ingest,
    memory,
    producers,
    rankings,
    runtime,
    scaling,
    validation,
)

FIGURES: list[Figure] = [
    *ingest.FIGURES,
    *runtime.FIGURES,
    *scaling.FIGURES,
    *cluster.FIGURES,
    *freshness.FIGURES,
    *producers.FIGURES,
    *rankings.FIGURES,
    *memory.FIGURES,
    *validation.FIGURES,
    *alerts.FIGURES,
    *dashboard.FIGURES,
]
