"""admin console: accounts an admin deactivates or gives a temporary password, an
optional email, and channels and private rooms archived rather than deleted.

Every new column is empty (or false) for existing rows: everyone stays active, nobody
must change their password, nothing is archived.

Revision ID: 0007_admin_console
Revises: 0006_media_rooms
Create Date: 2026-11-28 22:15:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0007_admin_console'
down_revision = '0006_media_rooms'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('email', sa.String(length=254), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column(
                'must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('must_change_password', server_default=None)
    # The admin's Users list, sorted by name, role or creation, a page at a time.
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index('ix_user_display_name_id', ['display_name', 'id'], unique=False)
        batch_op.create_index('ix_user_role_username', ['role', 'username'], unique=False)
        batch_op.create_index('ix_user_created_at_id', ['created_at', 'id'], unique=False)
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
    with op.batch_alter_table('room', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(), nullable=True))
    # The admin's audit log, filtered by actor, action or date, newest first.
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.create_index('ix_audit_entry_actor_id_at', ['actor_id', 'at'], unique=False)
        batch_op.create_index('ix_audit_entry_action_at', ['action', 'at'], unique=False)
        batch_op.create_index('ix_audit_entry_at', ['at'], unique=False)


def downgrade():
    with op.batch_alter_table('audit_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_entry_at')
        batch_op.drop_index('ix_audit_entry_action_at')
        batch_op.drop_index('ix_audit_entry_actor_id_at')
    with op.batch_alter_table('room', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
    with op.batch_alter_table('channel', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index('ix_user_created_at_id')
        batch_op.drop_index('ix_user_role_username')
        batch_op.drop_index('ix_user_display_name_id')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('email')
