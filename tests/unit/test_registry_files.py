"""A city's registry from CSV files (warehouse/registry.py): what is read, what is refused."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from hailong.registry import (
    RegistryError,
    check_offices,
    hanoi_registry,
    read_lineage,
    read_offices,
    read_units,
)

CITY = Path(__file__).resolve().parents[1] / "fixtures" / "second_city"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return path


def test_the_second_city_reads() -> None:
    units = read_units(CITY / "units.csv")
    offices = read_offices(CITY / "offices.csv", units)
    assert [u.level for u in units] == ["province", *["commune"] * 4]
    assert {o.office_id: o.unit.code for o in offices} == {
        "MAU-90001": "90001",
        "MAU-90002": "90002",
        "MAU-90003": "90003",
        "MAU-90004": "90004",
    }
    assert all(o.starts == date(2025, 7, 1) and o.ends is None for o in offices)
    check_offices(offices)


def test_an_office_takes_the_unit_valid_on_its_first_day(tmp_path: Path) -> None:
    units = read_units(
        write(
            tmp_path,
            "u.csv",
            (
                "code,name,type,level,parent_code,valid_from,valid_to\n"
                "1,Old,Phường,ward,,2020-01-01,2025-06-30\n"
                "1,New,Xã,commune,,2025-07-01,\n"
            ),
        )
    )
    offices = read_offices(
        write(
            tmp_path,
            "o.csv",
            (
                "office_id,name,unit_code,valid_from,valid_to\n"
                "A,,1,2024-01-01,2025-06-30\n"
                "A,,1,2025-07-01,\n"
            ),
        ),
        units,
    )
    assert [(o.unit.name, o.name) for o in offices] == [("Old", "A"), ("New", "A")]
    check_offices(offices)


@pytest.mark.parametrize(
    ("units", "error"),
    [
        ("code,name,type,level,parent_code,valid_from\n", "missing column(s) valid_to"),
        (
            "code,name,type,level,parent_code,valid_from,valid_to\n1,,x,commune,,,\n",
            "line 2: a unit needs a code and a name",
        ),
        (
            "code,name,type,level,parent_code,valid_from,valid_to\n1,A,x,hamlet,,,\n",
            "level 'hamlet' is not one of",
        ),
        (
            "code,name,type,level,parent_code,valid_from,valid_to\n1,A,x,commune,,2025-13-01,\n",
            "line 2: valid_from '2025-13-01' is not a date",
        ),
        (
            "code,name,type,level,parent_code,valid_from,valid_to\n1,A,x,commune,,2025-07-01,2025-01-01\n",
            "valid_to 2025-01-01 is before valid_from",
        ),
        (
            "code,name,type,level,parent_code,valid_from,valid_to\n1,A,x,commune,,,\n1,B,x,commune,,,\n",
            "unit 1 from 1970-01-01 is listed twice",
        ),
    ],
)
def test_bad_unit_files_are_refused_with_the_line(tmp_path: Path, units: str, error: str) -> None:
    with pytest.raises(RegistryError) as info:
        read_units(write(tmp_path, "u.csv", units))
    assert error in str(info.value)


@pytest.mark.parametrize(
    ("offices", "error"),
    [
        ("office_id,name,unit_code\n", "missing column(s) valid_from, valid_to"),
        ("office_id,name,unit_code,valid_from,valid_to\n,x,1,,\n", "line 2: an office needs"),
        ("office_id,name,unit_code,valid_from,valid_to\nA,x,9,,\n", "unit '9' is not in the units"),
        (
            "office_id,name,unit_code,valid_from,valid_to\nA,x,1,2019-01-01,\n",
            "unit 1 does not exist on 2019-01-01",
        ),
        (
            "office_id,name,unit_code,valid_from,valid_to\nA,x,1,2021-01-01,2020-12-31\n",
            "the office ends before it starts",
        ),
    ],
)
def test_bad_office_files_are_refused_with_the_line(
    tmp_path: Path, offices: str, error: str
) -> None:
    units = read_units(
        write(
            tmp_path,
            "u.csv",
            ("code,name,type,level,parent_code,valid_from,valid_to\n1,A,x,commune,,2020-01-01,\n"),
        )
    )
    with pytest.raises(RegistryError) as info:
        read_offices(write(tmp_path, "o.csv", offices), units)
    assert error in str(info.value)


def test_lineage_coverage_is_full_or_partial(tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="coverage 'most'"):
        read_lineage(
            write(
                tmp_path, "l.csv", ("new_code,new_name,old_code,old_name,coverage\n1,A,2,B,most\n")
            )
        )


def test_hanoi_still_reads_from_its_shipped_files() -> None:
    units, offices, lineage = hanoi_registry()
    assert len([u for u in units if u.level == "commune"]) == 126
    assert len(offices) > 126 and len(lineage) > 0
