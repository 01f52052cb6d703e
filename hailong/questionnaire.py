"""Questionnaires for QR surveys: criteria grouped into aspects (SIPAS convention).

Their wording lives in JSON files under ``hailong/data/questionnaires/``, not in code;
adding a questionnaire is adding a file. The id carries the version (``sipas-5/1``).
"""

from __future__ import annotations

import json
from functools import cache, cached_property
from importlib import resources

from pydantic import BaseModel, ConfigDict


class Criterion(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    text: dict[str, str]


class Aspect(BaseModel):
    model_config = ConfigDict(frozen=True)
    code: str
    title: dict[str, str]
    criteria: tuple[Criterion, ...]


class Questionnaire(BaseModel):
    """One questionnaire version: its aspects and their criterion codes."""

    model_config = ConfigDict(frozen=True)
    id: str
    title: dict[str, str]
    aspects: tuple[Aspect, ...]

    @cached_property
    def aspects_by_criterion(self) -> dict[str, str]:
        """Criterion code → aspect code (the first aspect that lists it), built once:
        the worker asks for every answer it lands."""
        return {c.code: a.code for a in reversed(self.aspects) for c in a.criteria}

    @property
    def criterion_codes(self) -> frozenset[str]:
        return frozenset(self.aspects_by_criterion)

    def aspect_of(self, criterion: str) -> str:
        """The aspect code a criterion belongs to (KeyError for an unknown one)."""
        return self.aspects_by_criterion[criterion]


@cache
def questionnaires() -> dict[str, Questionnaire]:
    """Every questionnaire shipped with the platform, by id."""
    found: dict[str, Questionnaire] = {}
    folder = resources.files("hailong") / "data" / "questionnaires"
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            q = Questionnaire.model_validate(json.loads(entry.read_text("utf-8")))
            found[q.id] = q
    return found
