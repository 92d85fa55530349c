"""password handouts: a CSV import's temporary passwords, kept until the admin
downloads them or ten minutes pass.

Revision ID: 0008_password_handouts
Revises: 0007_admin_console
Create Date: 2026-11-28 22:20:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0008_password_handouts"
down_revision = "0007_admin_console"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "password_handout",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["user.id"], name=op.f("fk_password_handout_created_by_id_user")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_password_handout")),
    )
    with op.batch_alter_table("password_handout", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_password_handout_expires_at"), ["expires_at"], unique=False
        )


def downgrade():
    with op.batch_alter_table("password_handout", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_handout_expires_at"))
    op.drop_table("password_handout")
