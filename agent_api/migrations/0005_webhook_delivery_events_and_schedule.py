# Deliveries of the new pool events and of test pings; a pending delivery always has its next attempt scheduled
# (those created without one are due now).

from django.db import migrations, models
from django.db.models.functions import Now


def schedule_pending(apps, schema_editor):
    WebhookDelivery = apps.get_model("agent_api", "WebhookDelivery")
    WebhookDelivery.objects.filter(status="pending", next_attempt_at__isnull=True).update(next_attempt_at=Now())


class Migration(migrations.Migration):
    dependencies = [
        ("agent_api", "0004_agent_bounds_fee_recipients"),
        ("pools", "0011_pool_event_every_status"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookdelivery",
            name="event",
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
                    ("ping", "A test delivery"),
                ],
                max_length=32,
            ),
        ),
        migrations.AlterField(
            model_name="webhookdelivery",
            name="next_attempt_at",
            field=models.DateTimeField(
                blank=True,
                db_index=True,
                help_text="When the next attempt is due; set while the delivery is pending.",
                null=True,
            ),
        ),
        migrations.RunPython(schedule_pending, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="webhookdelivery",
            constraint=models.CheckConstraint(
                condition=models.Q(("status", "pending"), _negated=True) | models.Q(("next_attempt_at__isnull", False)),
                name="webhook_delivery_pending_is_scheduled",
            ),
        ),
    ]
