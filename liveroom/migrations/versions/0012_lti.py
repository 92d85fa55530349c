"""LTI 1.3: the learning platforms an admin registered (Moodle, Canvas), the nonces
the tool handed out at login initiation (each taken once at launch), the admin's
mapping from LTI roles to channel roles, the tool's own RSA key, and the course a
channel was made for.

Revision ID: 0012_lti
Revises: 0011_sign_in_identities
Create Date: 2026-11-29 01:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_lti"
down_revision = "0011_sign_in_identities"
branch_labels = None
depends_on = None

CHANNEL_ROLE = sa.Enum(
    "manager", "moderator", "contributor", "member", name="channelrole", native_enum=False, length=32
)
DEFAULT_MAPPING = [
    ("Instructor", "manager"),
    ("Administrator", "manager"),
    ("TeachingAssistant", "moderator"),
    ("ContentDeveloper", "contributor"),
    ("Learner", "member"),
    ("*", "member"),
]


def upgrade():
    op.create_table(
        "lti_platform",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("issuer", sa.String(length=200), nullable=False),
        sa.Column("client_id", sa.String(length=54), nullable=False),
        sa.Column("auth_login_url", sa.String(length=500), nullable=False),
        sa.Column("auth_token_url", sa.String(length=500), nullable=False),
        sa.Column("key_set_url", sa.String(length=500), nullable=False),
        sa.Column("deployment_ids", sa.Text(), nullable=False),
        sa.Column("frame_origins", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_platform")),
        sa.UniqueConstraint("issuer", "client_id", name="uq_lti_platform_issuer_client_id"),
    )
    op.create_table(
        "lti_nonce",
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("value", name=op.f("pk_lti_nonce")),
    )
    with op.batch_alter_table("lti_nonce", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lti_nonce_expires_at"), ["expires_at"], unique=False)
    mapping = op.create_table(
        "lti_role_mapping",
        sa.Column("lti_role", sa.String(length=100), nullable=False),
        sa.Column("channel_role", CHANNEL_ROLE, nullable=False),
        sa.PrimaryKeyConstraint("lti_role", name=op.f("pk_lti_role_mapping")),
    )
    op.bulk_insert(mapping, [{"lti_role": r, "channel_role": c} for r, c in DEFAULT_MAPPING])
    op.create_table(
        "lti_tool_key",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("private_pem", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lti_tool_key")),
    )
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lti_platform", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("lti_context_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("lti_context_title", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("lti_context_label", sa.String(length=255), nullable=True))
        batch_op.create_unique_constraint(
            "uq_channel_lti_platform_context", ["lti_platform", "lti_context_id"]
        )


def downgrade():
    with op.batch_alter_table("channel", schema=None) as batch_op:
        batch_op.drop_constraint("uq_channel_lti_platform_context", type_="unique")
        batch_op.drop_column("lti_context_label")
        batch_op.drop_column("lti_context_title")
        batch_op.drop_column("lti_context_id")
        batch_op.drop_column("lti_platform")
    op.drop_table("lti_tool_key")
    op.drop_table("lti_role_mapping")
    with op.batch_alter_table("lti_nonce", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lti_nonce_expires_at"))
    op.drop_table("lti_nonce")
    op.drop_table("lti_platform")
