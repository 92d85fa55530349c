"""media: who sends audio, video and a screen, and who may.

``participation`` records what each person's browser sends (microphone, camera,
screen) and what instructors decided for them (a strong mute, an invitation onto the
stage, leave to share a screen); ``live_session`` its stage mode and whether "mute
all" was strong. Existing rows get everything off and the "everyone" mode.

Revision ID: 0004_media
Revises: 0003_quiet_hub
Create Date: 2026-11-28 13:10:00

"""
import sqlalchemy as sa
from alembic import op


revision = '0004_media'
down_revision = '0003_quiet_hub'
branch_labels = None
depends_on = None

PARTICIPATION_FLAGS = ('mic_on', 'camera_on', 'screen_on', 'strong_muted', 'on_stage', 'may_share')


def upgrade():
    with op.batch_alter_table('participation', schema=None) as batch_op:
        for name in PARTICIPATION_FLAGS:
            batch_op.add_column(
                sa.Column(name, sa.Boolean(), server_default=sa.false(), nullable=False)
            )
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('stage_mode', sa.String(length=12), server_default='everyone', nullable=False)
        )
        batch_op.add_column(
            sa.Column('strong_mute', sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table('live_session', schema=None) as batch_op:
        batch_op.drop_column('strong_mute')
        batch_op.drop_column('stage_mode')
    with op.batch_alter_table('participation', schema=None) as batch_op:
        for name in reversed(PARTICIPATION_FLAGS):
            batch_op.drop_column(name)
