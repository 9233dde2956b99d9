from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0009_chaintransaction_l1_fee"),
    ]

    operations = [
        migrations.AddField(
            model_name="indexercursor",
            name="final_block",
            field=models.BigIntegerField(
                blank=True,
                help_text="The CHAIN_CONFIRMATION_TAG block when the indexer last looked (empty: no tag, every block counts).",
                null=True,
            ),
        ),
    ]
