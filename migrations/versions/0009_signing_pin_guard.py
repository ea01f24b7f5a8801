"""signing PIN guard: wrong PINs in a row and the lock of a user's remote signing

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:00:00
"""
from alembic import op
import sqlalchemy as sa
import app.models.base

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('signing_pin_guards',
    sa.Column('user_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('locked_until', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_failure_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signing_pin_guards_user_id_users')),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_signing_pin_guards'))
    )


def downgrade() -> None:
    op.drop_table('signing_pin_guards')
