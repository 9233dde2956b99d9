# Every status change of a pool, and every refund batch paid, is an event (issue 18).

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("pools", "0010_indexercursor_final_block"),
    ]

    operations = [
        migrations.AlterField(
            model_name="poolevent",
            name="kind",
            field=models.CharField(
                choices=[
                    ("deposit.credited", "A deposit was credited"),
                    ("pool.closed", "A pool closed"),
                    ("pool.launched", "A pool launched its token"),
                    ("pool.refunded", "A pool's refunds were paid"),
                    ("pool.refunds_waiting", "A pool's refunds wait (for fees, gas or a decision)"),
                    ("pool.scheduled", "A pool was scheduled (its deposit address exists)"),
                    ("pool.opened", "A pool's raise opened"),
                    ("pool.launching", "A pool's launch was requested"),
                    ("pool.launch_failed", "A pool's launch failed: its deposits are refunded"),
                    ("pool.refunding", "A pool's deposits are being refunded in full"),
                    ("pool.cancelled", "A pool was cancelled"),
                    ("refund_batch.paid", "A refund batch's transaction was confirmed"),
                ],
                max_length=32,
            ),
        ),
    ]
