"""media rooms: a meeting's room on a media server, and each stay's pass to it.

``media_room`` says which Janus server holds a live session's VideoRoom, its number
there and its secret; ``media_pass`` holds each admitted stay's Janus token, so that
it can be withdrawn when the person leaves, is removed or the meeting ends. Both are
new and start empty.

Revision ID: 0006_media_rooms
Revises: 0005_people_order
Create Date: 2026-11-28 19:40:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0006_media_rooms'
down_revision = '0005_people_order'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'media_room',
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('server', sa.String(length=300), nullable=False),
        sa.Column('room', sa.BigInteger(), nullable=False),
        sa.Column('secret', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['session_id'], ['live_session.id'], name=op.f('fk_media_room_session_id_live_session')
        ),
        sa.PrimaryKeyConstraint('session_id', name=op.f('pk_media_room')),
    )
    op.create_table(
        'media_pass',
        sa.Column('participation_id', sa.Integer(), nullable=False),
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('token', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ['participation_id'],
            ['participation.id'],
            name=op.f('fk_media_pass_participation_id_participation'),
        ),
        sa.ForeignKeyConstraint(
            ['session_id'], ['live_session.id'], name=op.f('fk_media_pass_session_id_live_session')
        ),
        sa.PrimaryKeyConstraint('participation_id', name=op.f('pk_media_pass')),
        sa.UniqueConstraint('token', name=op.f('uq_media_pass_token')),
    )
    with op.batch_alter_table('media_pass', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_media_pass_session_id'), ['session_id'], unique=False)


def downgrade():
    with op.batch_alter_table('media_pass', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_media_pass_session_id'))
    op.drop_table('media_pass')
    op.drop_table('media_room')
