from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0007_token_identity_and_demo"),
    ]

    operations = [
        migrations.CreateModel(
            name="TraceGap",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("chain_id", models.PositiveBigIntegerField()),
                ("first_block", models.BigIntegerField(help_text="The first block indexed without traces.")),
                (
                    "last_block",
                    models.BigIntegerField(
                        blank=True,
                        help_text="The last block indexed without traces; empty while the RPC still refuses.",
                        null=True,
                    ),
                ),
                ("reason", models.TextField(help_text="What the RPC answered when asked for traces.")),
                (
                    "retraced_through",
                    models.BigIntegerField(
                        blank=True,
                        help_text="Once traces are served again: how far the gap's blocks have been traced since.",
                        null=True,
                    ),
                ),
                ("started_at", models.DateTimeField(auto_now_add=True)),
                ("ended_at", models.DateTimeField(blank=True, null=True)),
                (
                    "pools",
                    models.ManyToManyField(
                        help_text="The ETH pools watched meanwhile.", related_name="trace_gaps", to="pools.pool"
                    ),
                ),
            ],
            options={
                "ordering": ["-first_block"],
                "constraints": [
                    models.UniqueConstraint(
                        condition=models.Q(("last_block__isnull", True)),
                        fields=("chain_id",),
                        name="trace_gap_one_open_per_chain",
                    )
                ],
            },
        ),
    ]
