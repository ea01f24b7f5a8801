"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-12-03 18:50:52.338625
"""
from alembic import op
import sqlalchemy as sa
import app.models.base
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    
    op.create_table('model_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('process_id', sa.String(length=100), nullable=False),
    sa.Column('checksum', sa.String(length=64), nullable=False),
    sa.Column('spec_json', sa.Text(), nullable=False),
    sa.Column('files', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('forms', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('deployed_by', sa.String(length=64), nullable=False),
    sa.Column('deployed_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_versions')),
    sa.UniqueConstraint('version', name=op.f('uq_model_versions_version'))
    )
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_model_versions_checksum'), ['checksum'], unique=False)

    op.create_table('organizations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('details', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organizations')),
    sa.UniqueConstraint('code', name=op.f('uq_organizations_code'))
    )
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organizations_kind'), ['kind'], unique=False)

    op.create_table('simulated_clock',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('simulated_anchor', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('real_anchor', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_simulated_clock'))
    )
    op.create_table('process_instances',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('model_version_id', sa.Integer(), nullable=False),
    sa.Column('revision', sa.Integer(), nullable=False),
    sa.Column('state', sa.LargeBinary(), nullable=False),
    sa.Column('serializer_version', sa.String(length=16), nullable=False),
    sa.Column('completed', sa.Boolean(), nullable=False),
    sa.Column('next_timer_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['model_version_id'], ['model_versions.id'], name=op.f('fk_process_instances_model_version_id_model_versions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_process_instances'))
    )
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.create_index('ix_process_instances_due_timer', ['next_timer_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_process_instances_model_version_id'), ['model_version_id'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('locale', sa.String(length=8), nullable=False),
    sa.Column('email', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_users_organization_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_organization_id'), ['organization_id'], unique=False)

    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_api_tokens_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_api_tokens_token_hash'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_user_id'), ['user_id'], unique=False)

    op.create_table('consignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('declaration_no', sa.String(length=12), nullable=False),
    sa.Column('declaration_type', sa.String(length=8), nullable=False),
    sa.Column('customs_branch', sa.String(length=8), nullable=False),
    sa.Column('trader_org_id', sa.Integer(), nullable=False),
    sa.Column('goods', sa.String(length=500), nullable=False),
    sa.Column('hs_codes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('containers', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('awb', sa.String(length=16), nullable=True),
    sa.Column('bill_of_lading', sa.String(length=64), nullable=True),
    sa.Column('sampling_place', sa.String(length=200), nullable=True),
    sa.Column('lead_agency', sa.String(length=32), nullable=True),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('current_step', sa.String(length=300), nullable=True),
    sa.Column('escalated', sa.Boolean(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('registered_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_activity_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_consignments_instance_id_process_instances')),
    sa.ForeignKeyConstraint(['trader_org_id'], ['organizations.id'], name=op.f('fk_consignments_trader_org_id_organizations')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consignments')),
    sa.UniqueConstraint('declaration_no', name=op.f('uq_consignments_declaration_no')),
    sa.UniqueConstraint('instance_id', name=op.f('uq_consignments_instance_id'))
    )
    with op.batch_alter_table('consignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_consignments_bill_of_lading'), ['bill_of_lading'], unique=False)
        batch_op.create_index(batch_op.f('ix_consignments_customs_branch'), ['customs_branch'], unique=False)
        batch_op.create_index(batch_op.f('ix_consignments_lead_agency'), ['lead_agency'], unique=False)
        batch_op.create_index('ix_consignments_stalled', ['status', 'last_activity_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_consignments_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_consignments_trader_org_id'), ['trader_org_id'], unique=False)

    op.create_table('message_inbox',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('result_var', sa.String(length=100), nullable=False),
    sa.Column('received_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_message_inbox_instance_id_process_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_message_inbox'))
    )
    with op.batch_alter_table('message_inbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_message_inbox_instance_id'), ['instance_id'], unique=False)

    op.create_table('audit_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('organization', sa.String(length=32), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('consignment_id', sa.Integer(), nullable=True),
    sa.Column('task_id', sa.String(length=36), nullable=True),
    sa.Column('data_hash', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['consignment_id'], ['consignments.id'], name=op.f('fk_audit_events_consignment_id_consignments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events')),
    sa.UniqueConstraint('hash', name=op.f('uq_audit_events_hash')),
    sa.UniqueConstraint('prev_hash', name=op.f('uq_audit_events_prev_hash'))
    )
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_events_consignment_id'), ['consignment_id'], unique=False)

    op.create_table('jobs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('consignment_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('topic', sa.String(length=100), nullable=False),
    sa.Column('inputs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=100), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_run_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lock_owner', sa.String(length=64), nullable=True),
    sa.Column('lock_expires_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('result', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['consignment_id'], ['consignments.id'], name=op.f('fk_jobs_consignment_id_consignments')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_jobs_instance_id_process_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_jobs')),
    sa.UniqueConstraint('idempotency_key', name=op.f('uq_jobs_idempotency_key'))
    )
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_jobs_consignment_id'), ['consignment_id'], unique=False)
        batch_op.create_index('ix_jobs_due', ['state', 'next_run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_jobs_instance_id'), ['instance_id'], unique=False)

    op.create_table('timeline_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consignment_id', sa.Integer(), nullable=False),
    sa.Column('at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('step_name', sa.String(length=200), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=True),
    sa.Column('organization', sa.String(length=32), nullable=True),
    sa.Column('working_hours', sa.Double(), nullable=True),
    sa.Column('detail', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['consignment_id'], ['consignments.id'], name=op.f('fk_timeline_events_consignment_id_consignments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_timeline_events'))
    )
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_timeline_events_consignment_id'), ['consignment_id'], unique=False)

    op.create_table('work_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('instance_id', sa.Integer(), nullable=False),
    sa.Column('consignment_id', sa.Integer(), nullable=False),
    sa.Column('task_id', sa.String(length=36), nullable=False),
    sa.Column('step_id', sa.String(length=100), nullable=False),
    sa.Column('step_name', sa.String(length=200), nullable=False),
    sa.Column('form_key', sa.String(length=100), nullable=True),
    sa.Column('organization', sa.String(length=32), nullable=False),
    sa.Column('role', sa.String(length=32), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('escalation', sa.String(length=64), nullable=True),
    sa.Column('signature_required', sa.Boolean(), nullable=False),
    sa.Column('created_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_work_items_assignee_id_users')),
    sa.ForeignKeyConstraint(['completed_by_id'], ['users.id'], name=op.f('fk_work_items_completed_by_id_users')),
    sa.ForeignKeyConstraint(['consignment_id'], ['consignments.id'], name=op.f('fk_work_items_consignment_id_consignments')),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'], name=op.f('fk_work_items_instance_id_process_instances')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_items')),
    sa.UniqueConstraint('task_id', name=op.f('uq_work_items_task_id'))
    )
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_items_consignment_id'), ['consignment_id'], unique=False)
        batch_op.create_index('ix_work_items_inbox', ['organization', 'role', 'state', 'due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_items_instance_id'), ['instance_id'], unique=False)

    op.create_table('escalations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('consignment_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('organization', sa.String(length=32), nullable=False),
    sa.Column('raised_at', app.models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('work_item_id', sa.Integer(), nullable=True),
    sa.Column('resolved_at', app.models.base.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['consignment_id'], ['consignments.id'], name=op.f('fk_escalations_consignment_id_consignments')),
    sa.ForeignKeyConstraint(['work_item_id'], ['work_items.id'], name=op.f('fk_escalations_work_item_id_work_items')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_escalations'))
    )
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_escalations_consignment_id'), ['consignment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_escalations_organization'), ['organization'], unique=False)

    


def downgrade() -> None:
    
    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_escalations_organization'))
        batch_op.drop_index(batch_op.f('ix_escalations_consignment_id'))

    op.drop_table('escalations')
    with op.batch_alter_table('work_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_items_instance_id'))
        batch_op.drop_index('ix_work_items_inbox')
        batch_op.drop_index(batch_op.f('ix_work_items_consignment_id'))

    op.drop_table('work_items')
    with op.batch_alter_table('timeline_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_timeline_events_consignment_id'))

    op.drop_table('timeline_events')
    with op.batch_alter_table('jobs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_jobs_instance_id'))
        batch_op.drop_index('ix_jobs_due')
        batch_op.drop_index(batch_op.f('ix_jobs_consignment_id'))

    op.drop_table('jobs')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_consignment_id'))

    op.drop_table('audit_events')
    with op.batch_alter_table('message_inbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_message_inbox_instance_id'))

    op.drop_table('message_inbox')
    with op.batch_alter_table('consignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_consignments_trader_org_id'))
        batch_op.drop_index(batch_op.f('ix_consignments_status'))
        batch_op.drop_index('ix_consignments_stalled')
        batch_op.drop_index(batch_op.f('ix_consignments_lead_agency'))
        batch_op.drop_index(batch_op.f('ix_consignments_customs_branch'))
        batch_op.drop_index(batch_op.f('ix_consignments_bill_of_lading'))

    op.drop_table('consignments')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_user_id'))

    op.drop_table('api_tokens')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_organization_id'))

    op.drop_table('users')
    with op.batch_alter_table('process_instances', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_instances_model_version_id'))
        batch_op.drop_index('ix_process_instances_due_timer')

    op.drop_table('process_instances')
    op.drop_table('simulated_clock')
    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organizations_kind'))

    op.drop_table('organizations')
    with op.batch_alter_table('model_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_model_versions_checksum'))

    op.drop_table('model_versions')
    
