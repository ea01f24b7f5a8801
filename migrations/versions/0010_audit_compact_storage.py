"""audit trail stored compactly: hashes as their 32 bytes, signed payloads zlib-compressed

The code still reads and writes hashes as hex text and payloads as their exact bytes
(app.models.base.HexDigest / CompressedBytes); only what the database keeps changes (about 1.5 KB less
per finished consignment). The chain's seals are over the same values, so every existing event still
verifies after the upgrade.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 04:40:00
"""

import zlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

HASHES = ("data_hash", "prev_hash", "hash")
BATCH = 2000

events = sa.table(
    "audit_events",
    sa.column("id", sa.Integer),
    *(sa.column(name) for name in HASHES),  # untyped: values pass as the driver gives them
    sa.column("signed_payload"),
)


def _rewrite(columns: tuple[str, ...], change, only_set: bool = False) -> None:  # noqa: ANN001
    """Rewrite ``columns`` of every audit row (``only_set``: of the rows where the first is not NULL) with
    ``change(value)``, in batches of ids."""
    conn = op.get_bind()
    last = 0
    update = (
        events.update()
        .where(events.c.id == sa.bindparam("row_id"))
        .values({name: sa.bindparam(f"new_{name}") for name in columns})
    )
    while True:
        rows = conn.execute(
            sa.select(events.c.id, *(events.c[name] for name in columns))
            .where(events.c.id > last, *([events.c[columns[0]].is_not(None)] if only_set else []))
            .order_by(events.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        conn.execute(
            update,
            [
                {
                    "row_id": row[0],
                    **{f"new_{name}": change(v) for name, v in zip(columns, row[1:], strict=True)},
                }
                for row in rows
            ],
        )
        last = rows[-1][0]


def _to_bytes(value):  # noqa: ANN001, ANN202
    if value is None:
        return None
    if isinstance(value, (bytes, memoryview)):
        value = bytes(value)
        if len(value) == 32:  # already converted
            return value
        value = value.decode("ascii")
    return bytes.fromhex(value)


def _to_hex(value):  # noqa: ANN001, ANN202
    return None if value is None else bytes(value).hex()


def _compress(value):  # noqa: ANN001, ANN202
    return None if value is None else zlib.compress(bytes(value), 9)


def _decompress(value):  # noqa: ANN001, ANN202
    return None if value is None else zlib.decompress(bytes(value))


def upgrade() -> None:
    _convert(_compress, sa.LargeBinary(32), "decode({name}, 'hex')", _to_bytes)


def downgrade() -> None:
    _convert(_decompress, sa.String(64), "encode({name}, 'hex')", _to_hex)


def _convert(payloads, hash_type, postgresql_using: str, hashes) -> None:  # noqa: ANN001
    """Rewrite the signed payloads with ``payloads``, then give the hash columns ``hash_type``: PostgreSQL
    converts them in ``ALTER COLUMN ... USING``; SQLite keeps any value in any column, so the values are
    converted with ``hashes`` first and the type declared after."""
    _rewrite(("signed_payload",), payloads, only_set=True)
    if op.get_bind().dialect.name == "postgresql":
        for name in HASHES:
            op.alter_column(
                "audit_events",
                name,
                type_=hash_type,
                postgresql_using=postgresql_using.format(name=name),
                existing_nullable=False,
            )
        return
    _rewrite(HASHES, hashes)
    with op.batch_alter_table("audit_events") as batch:
        for name in HASHES:
            batch.alter_column(name, type_=hash_type, existing_nullable=False)
