from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0012_pool_event_txid"),
    ]

    operations = [
        migrations.AddField(
            model_name="pool",
            name="state_version",
            field=models.BigIntegerField(default=0, editable=False),
        ),
    ]
