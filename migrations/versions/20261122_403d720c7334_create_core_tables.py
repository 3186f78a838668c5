"""create core tables: org structure, users and grants, templates, cohorts, instances, tasks,
deadlines, questionnaire responses, audit

Revision ID: 403d720c7334
Revises: 
Create Date: 2026-11-22 21:14:16.284251
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '403d720c7334'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('login', sa.String(length=100), nullable=False),
    sa.Column('full_name', sa.String(length=255), nullable=False),
    sa.Column('email', sa.String(length=255), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('login')
    )
    op.create_table('cohort',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('dates', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('year')
    )
    op.create_table('region',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_table('municipality',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_municipality_region_id'), 'municipality', ['region_id'], unique=False)
    op.create_table('template_version',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=255), nullable=False),
    sa.Column('status', sa.Enum('deployed', 'retired', name='template_status', native_enum=False, length=32), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('spec', sa.JSON(), nullable=False),
    sa.Column('deployed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('deployed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint('version >= 1', name='version_positive'),
    sa.ForeignKeyConstraint(['deployed_by_id'], ['app_user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key', 'content_hash', name='uq_template_key_content'),
    sa.UniqueConstraint('key', 'version', name='uq_template_key_version')
    )
    op.create_table('school',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('municipality_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('code')
    )
    op.create_index(op.f('ix_school_municipality_id'), 'school', ['municipality_id'], unique=False)
    op.create_index(op.f('ix_school_region_id'), 'school', ['region_id'], unique=False)
    op.create_table('template_file',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('path', sa.String(length=255), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['template_version_id'], ['template_version.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_version_id', 'path', name='uq_template_file_path')
    )
    op.create_table('process_instance',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('cohort_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('running', 'completed', 'cancelled', name='instance_status', native_enum=False, length=32), nullable=False),
    sa.Column('current_stage', sa.String(length=64), nullable=True),
    sa.Column('workflow_json', sa.Text(), nullable=False),
    sa.Column('serializer_version', sa.String(length=32), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('started_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['cohort_id'], ['cohort.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], ),
    sa.ForeignKeyConstraint(['started_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['template_version_id'], ['template_version.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('school_id', 'cohort_id', name='uq_instance_school_cohort')
    )
    op.create_index('ix_instance_school_status', 'process_instance', ['school_id', 'status'], unique=False)
    op.create_index(op.f('ix_process_instance_cohort_id'), 'process_instance', ['cohort_id'], unique=False)
    op.create_index(op.f('ix_process_instance_template_version_id'), 'process_instance', ['template_version_id'], unique=False)
    op.create_table('role_grant',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.Enum('school', 'curator', 'municipal_coordinator', 'regional_coordinator', 'federal', 'admin', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('municipality_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint("(role IN ('school', 'curator') AND school_id IS NOT NULL AND municipality_id IS NULL AND region_id IS NULL) OR (role = 'municipal_coordinator' AND municipality_id IS NOT NULL AND school_id IS NULL AND region_id IS NULL) OR (role = 'regional_coordinator' AND region_id IS NOT NULL AND school_id IS NULL AND municipality_id IS NULL) OR (role IN ('federal', 'admin') AND school_id IS NULL AND municipality_id IS NULL AND region_id IS NULL)", name='scope_matches_role'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('user_id', 'role', 'school_id', 'municipality_id', 'region_id', name='uq_role_grant')
    )
    op.create_index('ix_role_grant_scope', 'role_grant', ['role', 'school_id', 'municipality_id', 'region_id'], unique=False)
    op.create_index(op.f('ix_role_grant_user_id'), 'role_grant', ['user_id'], unique=False)
    op.create_table('questionnaire_response',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group', sa.String(length=32), nullable=False),
    sa.Column('respondent_key', sa.String(length=80), nullable=False),
    sa.Column('answers', sa.JSON(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('instance_id', 'group', 'respondent_key', name='uq_response_respondent')
    )
    op.create_index('ix_response_instance_group', 'questionnaire_response', ['instance_id', 'group'], unique=False)
    op.create_table('task',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('spiff_task_id', sa.String(length=36), nullable=False),
    sa.Column('element_id', sa.String(length=255), nullable=False),
    sa.Column('name', sa.String(length=500), nullable=False),
    sa.Column('stage', sa.String(length=64), nullable=False),
    sa.Column('role', sa.Enum('school', 'curator', 'municipal_coordinator', 'regional_coordinator', 'federal', 'admin', name='role', native_enum=False, length=32), nullable=False),
    sa.Column('form_key', sa.String(length=128), nullable=False),
    sa.Column('school_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('municipality_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('region_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('assignee_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('status', sa.Enum('ready', 'completed', 'cancelled', name='task_status', native_enum=False, length=32), nullable=False),
    sa.Column('due_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalation_level', sa.Integer(), nullable=False),
    sa.Column('draft', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_by_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.CheckConstraint("(status = 'completed') = (completed_at IS NOT NULL)", name='completed_has_time'),
    sa.CheckConstraint('escalation_level >= 0', name='escalation_level_non_negative'),
    sa.ForeignKeyConstraint(['assignee_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['completed_by_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['municipality_id'], ['municipality.id'], ),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], ),
    sa.ForeignKeyConstraint(['school_id'], ['school.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('spiff_task_id')
    )
    op.create_index('ix_task_assignee', 'task', ['assignee_id', 'status'], unique=False)
    op.create_index('ix_task_instance', 'task', ['instance_id', 'status'], unique=False)
    op.create_index('ix_task_open_municipality', 'task', ['status', 'role', 'municipality_id'], unique=False)
    op.create_index('ix_task_open_region', 'task', ['status', 'role', 'region_id'], unique=False)
    op.create_index('ix_task_open_school', 'task', ['status', 'role', 'school_id'], unique=False)
    op.create_table('audit_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('action', sa.String(length=64), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('template_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('details', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['app_user.id'], ),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ),
    sa.ForeignKeyConstraint(['template_version_id'], ['template_version.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_audit_at', 'audit_log', ['at'], unique=False)
    op.create_index('ix_audit_instance', 'audit_log', ['instance_id', 'id'], unique=False)
    op.create_table('deadline',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('instance_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('task_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('kind', sa.Enum('reminder', 'due', 'escalation', 'timer', name='deadline_kind', native_enum=False, length=32), nullable=False),
    sa.Column('step', sa.Integer(), nullable=False),
    sa.Column('fire_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('fired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled', sa.Boolean(), nullable=False),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.CheckConstraint('step >= 0', name='step_non_negative'),
    sa.ForeignKeyConstraint(['instance_id'], ['process_instance.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['task_id'], ['task.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deadline_due', 'deadline', ['fire_at'], unique=False, postgresql_where=sa.text('fired_at IS NULL'), sqlite_where=sa.text('fired_at IS NULL'))
    op.create_index('ix_deadline_task', 'deadline', ['task_id'], unique=False)

    _forbid_audit_changes()


# The audit log is evidence: the database itself refuses to change or delete its rows.
_PG_AUDIT_TRIGGER = """
CREATE FUNCTION audit_log_is_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_is_append_only();
"""


def _forbid_audit_changes() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_AUDIT_TRIGGER)
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )



def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_is_append_only()")
    op.drop_index('ix_deadline_task', table_name='deadline')
    op.drop_index('ix_deadline_due', table_name='deadline', postgresql_where=sa.text('fired_at IS NULL'), sqlite_where=sa.text('fired_at IS NULL'))
    op.drop_table('deadline')
    op.drop_index('ix_audit_instance', table_name='audit_log')
    op.drop_index('ix_audit_at', table_name='audit_log')
    op.drop_table('audit_log')
    op.drop_index('ix_task_open_school', table_name='task')
    op.drop_index('ix_task_open_region', table_name='task')
    op.drop_index('ix_task_open_municipality', table_name='task')
    op.drop_index('ix_task_instance', table_name='task')
    op.drop_index('ix_task_assignee', table_name='task')
    op.drop_table('task')
    op.drop_index('ix_response_instance_group', table_name='questionnaire_response')
    op.drop_table('questionnaire_response')
    op.drop_index(op.f('ix_role_grant_user_id'), table_name='role_grant')
    op.drop_index('ix_role_grant_scope', table_name='role_grant')
    op.drop_table('role_grant')
    op.drop_index(op.f('ix_process_instance_template_version_id'), table_name='process_instance')
    op.drop_index(op.f('ix_process_instance_cohort_id'), table_name='process_instance')
    op.drop_index('ix_instance_school_status', table_name='process_instance')
    op.drop_table('process_instance')
    op.drop_table('template_file')
    op.drop_index(op.f('ix_school_region_id'), table_name='school')
    op.drop_index(op.f('ix_school_municipality_id'), table_name='school')
    op.drop_table('school')
    op.drop_table('template_version')
    op.drop_index(op.f('ix_municipality_region_id'), table_name='municipality')
    op.drop_table('municipality')
    op.drop_table('region')
    op.drop_table('cohort')
    op.drop_table('app_user')
