"""``claim_keys``, the filter in front of ``event_claims`` (migration 0015), on the real
ClickHouse server: its key is the migration's key, and an id is found whatever other ids
share its key, so the filter can cost look-ups but never hide a claim."""

from __future__ import annotations

import uuid

import pytest

from hailong.settings import Settings
from warehouse import claims
from warehouse.claims import Claim, Located, Position
from warehouse.client import Warehouse
from warehouse.migrate import migrations

pytestmark = pytest.mark.integration


def claim(event_id: uuid.UUID, offset: int, uncontested: bool = True, partition: int = 0) -> Claim:
    return Claim(event_id, Position("kiosk", offset, partition), uncontested, Located("K", 1))


def twin(event_id: uuid.UUID) -> uuid.UUID:
    """Another id with the same key (the same first 8 bytes): an attacker's choice."""
    return uuid.UUID(int=(event_id.int & ~((1 << 64) - 1)) | (~event_id.int & ((1 << 64) - 1)))


def test_the_worker_s_key_is_the_migration_s_key(settings: Settings) -> None:
    ids = [uuid.uuid4() for _ in range(50)] + [uuid.UUID(int=0), uuid.UUID(int=(1 << 128) - 1)]
    (migration,) = [m for m in migrations() if m.name == "0015_claim_keys.sql"]
    assert claims.KEY_SQL in migration.text
    with Warehouse(settings) as wh:
        rows = wh.execute_with_ids(f"SELECT event_id, {claims.KEY_SQL} FROM _ids", ids)
        assert {e: k for e, k in rows} == {e: claims.key(e) for e in ids}
        # Claims written around record() get the same keys from key_existing().
        wh.insert(claims.TABLE, claims.COLUMNS, [claim(e, n).row() for n, e in enumerate(ids)])
        claims.key_existing(wh)
        keys = wh.execute(f"SELECT DISTINCT key FROM {claims.KEYS_TABLE}")
    assert {k for (k,) in keys} >= {claims.key(e) for e in ids}


def test_an_id_sharing_its_key_with_others_is_found_and_only_it(settings: Settings) -> None:
    a = uuid.uuid4()
    b = twin(a)
    assert claims.key(a) == claims.key(b) and a != b
    with Warehouse(settings) as wh:
        claims.record(wh, [claim(a, 7)])
        found = claims.lookup(wh, [a, b, uuid.uuid4()])
        assert list(found) == [a]
        assert [c.position for c in found[a]] == [Position("kiosk", 7, 0)]
        # b shares a's key: the key has two claims, so both ids are looked up, and each
        # has its own claim only: no contest.
        claims.record(wh, [claim(b, 8)])
        shared = claims.lookup_shared(wh, [a, b])
        assert {e: [c.position.offset for c in cs] for e, cs in shared.items()} == {a: [7], b: [8]}
        assert claims.contested(shared) == []
        assert set(claims.lookup(wh, [a, b])) == {a, b}


def test_shared_finds_the_ids_with_two_claims_whoever_made_them(settings: Settings) -> None:
    once, twice, replayed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with Warehouse(settings) as wh:
        claims.record(wh, [claim(once, 1), claim(twice, 2), claim(replayed, 3)])
        claims.record(wh, [claim(twice, 5, partition=1)])  # another worker's copy
        claims.record(wh, [claim(replayed, 3)])  # the same message claimed again: one position
        shared = claims.lookup_shared(wh, [once, twice, replayed])
    assert list(shared) == [twice]
    assert {c.position for c in shared[twice]} == {Position("kiosk", 2, 0), Position("kiosk", 5, 1)}
    assert [c.position for c in claims.contested(shared)] == [
        Position("kiosk", 2, 0),
        Position("kiosk", 5, 1),
    ]


def test_a_claim_without_its_key_would_be_missed_so_keys_go_first(settings: Settings) -> None:
    """What the order of writes in ``claims.record`` guards against: a claim whose key
    is absent is invisible to the look-up."""
    eid = uuid.uuid4()
    with Warehouse(settings) as wh:
        wh.insert(claims.TABLE, claims.COLUMNS, [claim(eid, 9).row()])
        assert claims.lookup(wh, [eid]) == {}
        writes: list[str] = []

        class Recording:
            def insert(self, table: str, columns: object, rows: object) -> int:
                writes.append(table)
                return wh.insert(table, columns, rows)  # type: ignore[arg-type]

        claims.record(Recording(), [claim(eid, 10)])  # type: ignore[arg-type]
        assert writes == [claims.KEYS_TABLE, claims.TABLE]
        assert set(claims.lookup(wh, [eid])) == {eid}
