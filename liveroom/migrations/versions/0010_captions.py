"""live captions: the meeting's captioner (named by an instructor) and the captions
they type, kept with the chat for the retention period (the languages issue).

Revision ID: 0010_captions
Revises: 0009_personal_preferences
Create Date: 2026-11-29 01:10:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0010_captions"
down_revision = "0009_personal_preferences"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("live_session", schema=None) as batch_op:
        batch_op.add_column(sa.Column("captioner_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_live_session_captioner_id_user"), "user", ["captioner_id"], ["id"]
        )
    op.create_table(
        "caption",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["session_id"], ["live_session.id"], name=op.f("fk_caption_session_id_live_session")
        ),
        sa.ForeignKeyConstraint(["author_id"], ["user.id"], name=op.f("fk_caption_author_id_user")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caption")),
    )
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.create_index("ix_caption_session_id_id", ["session_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_caption_created_at"), ["created_at"], unique=False)


def downgrade():
    with op.batch_alter_table("caption", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_caption_created_at"))
        batch_op.drop_index("ix_caption_session_id_id")
    op.drop_table("caption")
    with op.batch_alter_table("live_session", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_live_session_captioner_id_user"), type_="foreignkey")
        batch_op.drop_column("captioner_id")
