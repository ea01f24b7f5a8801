"""signatures on decisions, signing certificates, revocation lists, audit chain head

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 20:00:00

Existing audit events keep chain_version 1 (their seal does not cover id or signature); new events are
version 2. The head row starts at the newest existing event so ``portal audit verify`` keeps passing.
"""
from alembic import op
import sqlalchemy as sa
import app.models.base

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table('signing_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('organization', sa.String(length=32), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('subject', sa.String(length=500), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('not_before', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('not_after', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('encrypted_key', sa.LargeBinary(), nullable=True),
    sa.Column('registered_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('retired_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_signing_certificates_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_signing_certificates')),
    sa.UniqueConstraint('fingerprint', name=op.f('uq_signing_certificates_fingerprint'))
    )
    with op.batch_alter_table('signing_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_signing_certificates_organization'), ['organization'], unique=False)
        batch_op.create_index(batch_op.f('ix_signing_certificates_user_id'), ['user_id'], unique=False)

    op.create_table('revocation_lists',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issuer', sa.String(length=500), nullable=False),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('this_update', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('next_update', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('der', sa.LargeBinary(), nullable=False),
    sa.Column('loaded_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_revocation_lists'))
    )
    with op.batch_alter_table('revocation_lists', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revocation_lists_issuer'), ['issuer'], unique=False)

    op.create_table('audit_head',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_id', sa.Integer(), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_head'))
    )

    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('chain_version', sa.Integer(), nullable=False, server_default=sa.text('1')))
        batch_op.add_column(sa.Column('signature', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('signed_payload', sa.LargeBinary(), nullable=True))
        batch_op.add_column(sa.Column('certificate_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_audit_events_certificate_id_signing_certificates'), 'signing_certificates', ['certificate_id'], ['id'])

    bind = op.get_bind()
    last = bind.execute(sa.text("SELECT id, hash FROM audit_events ORDER BY id DESC LIMIT 1")).first()
    bind.execute(
        sa.text("INSERT INTO audit_head (id, last_id, hash) VALUES (1, :last_id, :hash)"),
        {"last_id": last[0] if last else 0, "hash": last[1] if last else GENESIS},
    )


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_events_certificate_id_signing_certificates'), type_='foreignkey')
        batch_op.drop_column('certificate_id')
        batch_op.drop_column('signed_payload')
        batch_op.drop_column('signature')
        batch_op.drop_column('chain_version')

    op.drop_table('audit_head')
    with op.batch_alter_table('revocation_lists', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revocation_lists_issuer'))

    op.drop_table('revocation_lists')
    with op.batch_alter_table('signing_certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_signing_certificates_user_id'))
        batch_op.drop_index(batch_op.f('ix_signing_certificates_organization'))

    op.drop_table('signing_certificates')
