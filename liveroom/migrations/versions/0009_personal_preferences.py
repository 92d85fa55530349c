"""personal preferences: each person's language, the live announcements they turned
off, and whether their keyboard shortcuts are on (the languages issue).

Revision ID: 0009_personal_preferences
Revises: 0008_password_handouts
Create Date: 2026-11-29 01:05:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0009_personal_preferences"
down_revision = "0008_password_handouts"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))
        batch_op.add_column(
            sa.Column(
                "announcements_off", sa.String(length=200), nullable=False, server_default=""
            )
        )
        batch_op.add_column(
            sa.Column("shortcuts_on", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade():
    with op.batch_alter_table("user", schema=None) as batch_op:
        batch_op.drop_column("shortcuts_on")
        batch_op.drop_column("announcements_off")
        batch_op.drop_column("locale")
