"""audit events: drop the unique indexes on prev_hash and hash

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 02:10:00

Since 0006 every event gets its id from the chain's head in the appending transaction, so two appends
racing for the same place clash on the primary key and on the head's guarded UPDATE; the two hash indexes
guarded nothing more and cost about 150 B per event. ``portal audit verify`` checks every link by walking
the ids, which it always did.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint('uq_audit_events_prev_hash', type_='unique')
        batch_op.drop_constraint('uq_audit_events_hash', type_='unique')


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_unique_constraint('uq_audit_events_hash', ['hash'])
        batch_op.create_unique_constraint('uq_audit_events_prev_hash', ['prev_hash'])
