"""Single use of QR tokens, durably: a SQLite database in WAL mode.

One row per token that was submitted (``token_id`` is the PRIMARY KEY), so two
submissions of one token can never both pass, even when they race or the gateway was
restarted in between. The life of a row:

1. :meth:`TokenStore.reserve` inserts it as ``reserved`` before the survey is published;
   a second submission finds the row and is refused (409).
2. Kafka confirmed the survey: :meth:`TokenStore.confirm` marks it ``used`` with the
   event id.
3. Kafka definitively failed: :meth:`TokenStore.release` deletes the reservation, so the
   citizen can submit again.

A reservation whose gateway died between 1 and 2 is taken over by a new submission
once it is older than ``stale_after_s`` (well beyond the delivery timeout): the first
attempt may or may not be in Kafka, and the stream worker counts a token once anyway
(its earliest submission), so letting the citizen retry is safe and better than
locking them out. Rows of expired tokens are purged (their tokens are refused as
expired before the store is asked).
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hailong.clock import SYSTEM, Clock

PURGE_EVERY = 1000


def _ts(at: datetime) -> str:
    # One fixed-width UTC form, so that text order is time order.
    return at.astimezone(UTC).isoformat(timespec="microseconds")


class TokenStore:
    """Which tokens were used; safe for threads and for several processes."""

    def __init__(self, path: Path, stale_after_s: float = 120.0, clock: Clock = SYSTEM) -> None:
        self.path = path
        self.clock = clock
        self.stale_after_s = stale_after_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("""
            CREATE TABLE IF NOT EXISTS used_tokens (
                token_id    TEXT PRIMARY KEY,
                office_id   TEXT NOT NULL,
                state       TEXT NOT NULL CHECK (state IN ('reserved', 'used')),
                reserved_at TEXT NOT NULL,
                used_at     TEXT,
                event_id    TEXT,
                expires_at  TEXT NOT NULL
            ) WITHOUT ROWID""")
        self._writes = 0
        self.purge()

    def reserve(self, token_id: str, office_id: str, expires_at: datetime) -> bool:
        """Reserve a token for one submission; False if it is used or reserved."""
        now = self.clock.now()
        stale = _ts(now - timedelta(seconds=self.stale_after_s))
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute(
                    "SELECT state, reserved_at FROM used_tokens WHERE token_id = ?", (token_id,)
                ).fetchone()
                if row is not None and not (row[0] == "reserved" and row[1] < stale):
                    self._db.execute("ROLLBACK")
                    return False
                self._db.execute(
                    "INSERT OR REPLACE INTO used_tokens (token_id, office_id, state, "
                    "reserved_at, expires_at) VALUES (?, ?, 'reserved', ?, ?)",
                    (token_id, office_id, _ts(now), _ts(expires_at)),
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._writes += 1
        if self._writes % PURGE_EVERY == 0:
            self.purge()
        return True

    def confirm(self, token_id: str, event_id: str) -> None:
        """Kafka has the survey: the token is used for good."""
        now = self.clock.now()
        with self._lock:
            self._db.execute(
                "UPDATE used_tokens SET state = 'used', used_at = ?, event_id = ? "
                "WHERE token_id = ?",
                (_ts(now), event_id, token_id),
            )

    def release(self, token_id: str) -> None:
        """Kafka failed: forget the reservation, the citizen may submit again."""
        with self._lock:
            self._db.execute(
                "DELETE FROM used_tokens WHERE token_id = ? AND state = 'reserved'", (token_id,)
            )

    def state(self, token_id: str) -> str | None:
        """``'reserved'``, ``'used'`` or None (never submitted)."""
        with self._lock:
            row = self._db.execute(
                "SELECT state FROM used_tokens WHERE token_id = ?", (token_id,)
            ).fetchone()
        return None if row is None else str(row[0])

    def purge(self) -> int:
        """Delete rows of tokens that expired more than a day ago by the store's clock
        (on open, too: a store opened with a testing clock never purges by the wall
        clock)."""
        cutoff = _ts(self.clock.now() - timedelta(days=1))
        with self._lock:
            return self._db.execute(
                "DELETE FROM used_tokens WHERE expires_at < ?", (cutoff,)
            ).rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()
