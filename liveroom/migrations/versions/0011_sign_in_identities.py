"""sign-in identities: the accounts of a school's identity provider (OpenID Connect)
and of its LMS (LTI 1.3) that sign a person in, each by its issuer and subject.

Revision ID: 0011_sign_in_identities
Revises: 0010_captions
Create Date: 2026-11-29 01:15:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_sign_in_identities"
down_revision = "0010_captions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "sign_in_identity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user.id"], name=op.f("fk_sign_in_identity_user_id_user")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_identity")),
        sa.UniqueConstraint("issuer", "subject", name="uq_sign_in_identity_issuer_subject"),
    )
    with op.batch_alter_table("sign_in_identity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_in_identity_user_id"), ["user_id"], unique=False)


def downgrade():
    with op.batch_alter_table("sign_in_identity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_identity_user_id"))
    op.drop_table("sign_in_identity")
