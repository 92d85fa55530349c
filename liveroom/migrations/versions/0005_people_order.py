"""people order: the people list's order has an index.

``participation.sort_name`` keeps the person's display name as the list sorts it
(case folded), and ``ix_participation_list_order`` covers the whole order of the
list (instructors, raised hands by when they went up, then names) for the stays still
open. A room of 1,000 then reads its top 50 from the index instead of sorting everyone
on every join. Existing stays get their person's name, lower-cased by the database.

Revision ID: 0005_people_order
Revises: 0004_media
Create Date: 2026-11-28 16:40:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0005_people_order'
down_revision = '0004_media'
branch_labels = None
depends_on = None

OPEN = sa.text("left_at IS NULL")


def upgrade():
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('sort_name', sa.String(length=200), server_default='', nullable=False)
        )
    op.execute(
        'UPDATE participation SET sort_name = '
        '(SELECT lower(display_name) FROM "user" WHERE "user".id = participation.user_id)'
    )
    op.create_index(
        'ix_participation_list_order',
        'participation',
        [
            'session_id',
            sa.text("(room_role != 'instructor')"),
            sa.text("(hand_raised_at IS NULL)"),
            'hand_raised_at',
            'sort_name',
            'id',
        ],
        sqlite_where=OPEN,
        postgresql_where=OPEN,
    )


def downgrade():
    op.drop_index('ix_participation_list_order', table_name='participation')
    with op.batch_alter_table('participation', schema=None) as batch_op:
        batch_op.drop_column('sort_name')
