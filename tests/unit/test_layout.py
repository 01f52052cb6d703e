"""The house rules of the tree that a linter does not check (issue 16): no module over
400 lines without a reason at its top, and README's layout table naming every module of
every package, and nothing that is not there."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hailong", "producers", "streams", "warehouse", "pipelines", "infra", "bench")
LIMIT = 400
REASON = "Over 400 lines on purpose:"


def modules(package: str) -> list[Path]:
    return sorted(p for p in (ROOT / package).rglob("*.py") if "__pycache__" not in p.parts)


def test_no_module_over_400_lines_without_a_reason_at_its_top() -> None:
    long = []
    for package in (*PACKAGES, "tests"):
        for path in modules(package):
            text = path.read_text("utf-8")
            doc = ast.get_docstring(ast.parse(text)) or ""
            if text.count("\n") > LIMIT and REASON not in doc:
                long.append(f"{path.relative_to(ROOT)} ({text.count(chr(10))} lines)")
    assert not long, f"over {LIMIT} lines without '{REASON} ...' in the docstring: {long}"


def layout_rows() -> dict[str, str]:
    """README's layout table: folder → the text of its row."""
    readme = (ROOT / "README.md").read_text("utf-8")
    rows = re.findall(r"^\| `([a-z]+)/` \| (.+) \|$", readme, re.M)
    return dict(rows)


def test_readme_layout_table_names_every_package_module_and_only_real_ones() -> None:
    rows = layout_rows()
    assert set(PACKAGES) <= set(rows), sorted(set(PACKAGES) - set(rows))
    missing, unknown = [], []
    for package in PACKAGES:
        row = rows[package]
        named = set(re.findall(r"`([A-Za-z0-9_./-]+\.py)`", row))
        folders = set(re.findall(r"`([A-Za-z0-9_./-]+/)`", row))
        here = {
            str(p.relative_to(ROOT / package))
            for p in modules(package)
            if p.name not in ("__init__.py", "__main__.py")
        }
        for module in sorted(here):
            # a module is named by its path in the package, or by its name inside a
            # sub-package the row names (``gateway/`` ... ``service.py``)
            parent = str(Path(module).parent) + "/"
            if module not in named and not (parent in folders and Path(module).name in named):
                missing.append(f"{package}/{module}")
        for name in named:
            if not list((ROOT / package).rglob(name)):
                unknown.append(f"{package}: {name}")
        for folder in folders:
            if not (ROOT / package / folder).is_dir():
                unknown.append(f"{package}: {folder}")
    assert not missing, f"modules README's layout table does not name: {missing}"
    assert not unknown, f"README's layout table names what is not there: {unknown}"
