"""Run-key reservations and conflict records, in the instance's own run-storage database.

Two small tables beside Dagster's `runs` (same SQLite file or PostgreSQL database):

- `floe_run_key_reservations`: one row per run key (primary key). Whoever inserts the
  row owns the key; `INSERT ... ON CONFLICT DO NOTHING` makes that atomic on SQLite and
  PostgreSQL, so concurrent evaluators cannot both win.
- `floe_run_key_conflicts`: one row per (run key, refused fingerprint), with how often and
  when it was last refused.
- `floe_work_in_flight`: one row per piece of work (assets + partition or range) naming the
  run that last claimed it; the run coordinator lets a run start only if its row landed or
  the run named there has finished.

Every operation is one statement per chunk of keys, never one per key.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from floe_dagster.compat import run_storage_connection

CHUNK = 500  # keys per statement: far below SQLite's and PostgreSQL's bind-parameter limits

metadata = sa.MetaData()
reservations = sa.Table(
    "floe_run_key_reservations",
    metadata,
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("reserved_at", sa.Float, nullable=False, index=True),
    sa.Column("product", sa.String(255), nullable=False),
    sa.Column("identity", sa.Text, nullable=False),
)
conflicts = sa.Table(
    "floe_run_key_conflicts",
    metadata,
    sa.Column("run_key", sa.String(255), primary_key=True),
    sa.Column("requested_fingerprint", sa.String(64), primary_key=True),
    sa.Column("held_fingerprint", sa.String(64), nullable=False),
    sa.Column("held_by_run_id", sa.String(255)),
    sa.Column("product", sa.String(255), nullable=False),
    sa.Column("identity", sa.Text, nullable=False),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False, index=True),
    sa.Column("occurrences", sa.Integer, nullable=False),
)
in_flight = sa.Table(
    "floe_work_in_flight",
    metadata,
    sa.Column("work_key", sa.String(255), primary_key=True),
    sa.Column("run_id", sa.String(255), nullable=False),
    sa.Column("run_key", sa.String(255), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("claimed_at", sa.Float, nullable=False, index=True),
)


@dataclass(frozen=True)
class WorkClaim:
    """The run that holds a piece of work, as `floe_work_in_flight` records it."""

    work_key: str
    run_id: str
    run_key: str
    fingerprint: str


@dataclass(frozen=True)
class Reservation:
    run_key: str
    fingerprint: str
    owner: str
    reserved_at: float


@dataclass(frozen=True)
class Claim:
    """A reservation one evaluator wants: key, what the run would do, and who asks."""

    run_key: str
    fingerprint: str
    product: str
    identity: dict[str, Any]


@dataclass(frozen=True)
class ConflictRecord:
    run_key: str
    requested_fingerprint: str
    held_fingerprint: str
    held_by_run_id: str | None
    product: str
    identity: dict[str, Any]
    first_seen: float
    last_seen: float
    occurrences: int


_ensured: set[str] = set()


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class ReservationStore:
    """The two tables, reached through the instance's run-storage connection."""

    def __init__(self, instance: Any) -> None:
        self._instance = instance

    def _connect(self) -> Any:
        return run_storage_connection(self._instance)

    def ensure_tables(self) -> None:
        """Create the tables once per process and database; concurrent creators are fine."""
        with self._connect() as conn:
            url = conn.engine.url.render_as_string(hide_password=True)
            if url in _ensured:
                return
            inspector = sa.inspect(conn)
            missing = [t for t in metadata.sorted_tables if not inspector.has_table(t.name)]
        for table in missing:
            try:
                with self._connect() as conn:
                    table.create(conn, checkfirst=True)
            except sa.exc.DBAPIError:
                with self._connect() as conn:  # another process created it first
                    if not sa.inspect(conn).has_table(table.name):
                        raise
        _ensured.add(url)

    def lookup(self, keys: Sequence[str]) -> dict[str, Reservation]:
        found: dict[str, Reservation] = {}
        with self._connect() as conn:
            for part in chunks(keys):
                rows = conn.execute(
                    sa.select(
                        reservations.c.run_key,
                        reservations.c.fingerprint,
                        reservations.c.owner,
                        reservations.c.reserved_at,
                    ).where(reservations.c.run_key.in_(part))
                )
                found.update({row.run_key: Reservation(*row) for row in rows})
        return found

    def release(self, keys: Sequence[str], owner: str, lease_expired_before: float) -> None:
        """Drop reservations of `keys` that are `owner`'s own or older than the lease.

        Only rows matching the condition at delete time go, so a fresh reservation made
        by someone else in the meantime survives.
        """
        with self._connect() as conn:
            for part in chunks(keys):
                conn.execute(
                    reservations.delete().where(
                        reservations.c.run_key.in_(part),
                        sa.or_(
                            reservations.c.owner == owner,
                            reservations.c.reserved_at < lease_expired_before,
                        ),
                    )
                )

    def release_refused(self, run_key: str, fingerprint: str) -> None:
        """Drop the reservation of a run the coordinator refused: it will not run, so the key
        is free for the next request (whoever makes it) once the holding run has ended."""
        with self._connect() as conn:
            conn.execute(
                reservations.delete().where(
                    reservations.c.run_key == run_key, reservations.c.fingerprint == fingerprint
                )
            )

    def reserve(self, claims: Sequence[Claim], owner: str, now: float) -> dict[str, Reservation]:
        """Insert every claim unless its key is taken; return the reservations now held.

        The caller owns exactly those keys whose returned owner is `owner`.
        """
        with self._connect() as conn:
            insert = _insert_for(conn)
            for part in chunks(claims):
                conn.execute(
                    insert(reservations)
                    .values(
                        [
                            {
                                "run_key": c.run_key,
                                "fingerprint": c.fingerprint,
                                "owner": owner,
                                "reserved_at": now,
                                "product": c.product,
                                "identity": _json(c.identity),
                            }
                            for c in part
                        ]
                    )
                    .on_conflict_do_nothing(index_elements=["run_key"])
                )
        return self.lookup([c.run_key for c in claims])

    def record_conflicts(
        self, refused: Iterable[tuple[Claim, str, str | None]], now: float
    ) -> list[str]:
        """Record (claim, held fingerprint, holding run) refusals; return keys seen for the first time."""
        rows = [
            {
                "run_key": claim.run_key,
                "requested_fingerprint": claim.fingerprint,
                "held_fingerprint": held,
                "held_by_run_id": run_id,
                "product": claim.product,
                "identity": _json(claim.identity),
                "first_seen": now,
                "last_seen": now,
                "occurrences": 1,
            }
            for claim, held, run_id in refused
        ]
        if not rows:
            return []
        with self._connect() as conn:
            insert = _insert_for(conn)
            for part in chunks(rows):
                statement = insert(conflicts).values(list(part))
                conn.execute(
                    statement.on_conflict_do_update(
                        index_elements=["run_key", "requested_fingerprint"],
                        set_={
                            "last_seen": statement.excluded.last_seen,
                            "held_by_run_id": statement.excluded.held_by_run_id,
                            "occurrences": conflicts.c.occurrences + 1,
                        },
                    )
                )
            first = conn.execute(
                sa.select(conflicts.c.run_key).where(
                    conflicts.c.first_seen == now, conflicts.c.occurrences == 1
                )
            )
            batch = {row["run_key"] for row in rows}
            return [row.run_key for row in first if row.run_key in batch]

    def list_conflicts(self, product: str | None = None) -> list[ConflictRecord]:
        query = sa.select(conflicts).order_by(conflicts.c.last_seen.desc(), conflicts.c.run_key)
        if product:
            query = query.where(conflicts.c.product == product)
        with self._connect() as conn:
            return [
                ConflictRecord(**{**row._asdict(), "identity": json.loads(row.identity)})
                for row in conn.execute(query)
            ]

    def claim_work(self, claim: WorkClaim, now: float) -> WorkClaim:
        """Insert `claim` unless its work is claimed; return the claim now held (two statements)."""
        with self._connect() as conn:
            conn.execute(
                _insert_for(conn)(in_flight)
                .values(
                    work_key=claim.work_key,
                    run_id=claim.run_id,
                    run_key=claim.run_key,
                    fingerprint=claim.fingerprint,
                    claimed_at=now,
                )
                .on_conflict_do_nothing(index_elements=["work_key"])
            )
            row = conn.execute(
                sa.select(
                    in_flight.c.work_key,
                    in_flight.c.run_id,
                    in_flight.c.run_key,
                    in_flight.c.fingerprint,
                ).where(in_flight.c.work_key == claim.work_key)
            ).one()
        return WorkClaim(*row)

    def release_work(self, work_key: str, run_id: str) -> None:
        """Drop the claim of `work_key` only if `run_id` still holds it (its run has finished)."""
        with self._connect() as conn:
            conn.execute(
                in_flight.delete().where(
                    in_flight.c.work_key == work_key, in_flight.c.run_id == run_id
                )
            )

    def prune(self, older_than: float) -> None:
        """Retention: forget reservations, conflicts and claims not touched since `older_than`."""
        with self._connect() as conn:
            conn.execute(reservations.delete().where(reservations.c.reserved_at < older_than))
            conn.execute(conflicts.delete().where(conflicts.c.last_seen < older_than))
            conn.execute(in_flight.delete().where(in_flight.c.claimed_at < older_than))


def _insert_for(conn: Any) -> Any:
    """The dialect's INSERT with ON CONFLICT (SQLite and PostgreSQL spell it the same)."""
    name = conn.dialect.name
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    raise TypeError(f"run-key reservations support SQLite and PostgreSQL, not {name}")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def now() -> float:
    return time.time()
