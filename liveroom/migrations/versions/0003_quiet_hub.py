"""a quiet hub: site-wide events (no room) and upkeep leases.

``event.room_id`` may be null for what concerns the whole site (its switches), so pages
waiting for a meeting hear that live rooms were turned on or off. ``upkeep_lease`` lets
one worker at a time run the presence sweep and the forgetting of old rows.

Revision ID: 0003_quiet_hub
Revises: 0002_room_rules
Create Date: 2026-11-28 10:55:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0003_quiet_hub'
down_revision = '0002_room_rules'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('upkeep_lease',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('holder', sa.String(length=100), nullable=False),
    sa.Column('expires_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_upkeep_lease'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('room_id', existing_type=sa.Integer(), nullable=True)


def downgrade():
    op.execute("DELETE FROM event WHERE room_id IS NULL")
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.alter_column('room_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('upkeep_lease')
