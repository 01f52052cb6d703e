"""Questionnaires for QR surveys: criteria grouped into aspects (SIPAS convention).

Their wording lives in JSON files under ``hailong/data/questionnaires/``, not in code;
adding a questionnaire is adding a file. The id carries the version (``sipas-5/1``).
"""

from __future__ import annotations

import json
from functools import cache
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

    @property
    def criterion_codes(self) -> frozenset[str]:
        return frozenset(c.code for a in self.aspects for c in a.criteria)

    def aspect_of(self, criterion: str) -> str:
        """The aspect code a criterion belongs to."""
        for aspect in self.aspects:
            if any(c.code == criterion for c in aspect.criteria):
                return aspect.code
        raise KeyError(criterion)


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
