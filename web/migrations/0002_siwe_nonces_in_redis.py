"""Sign-in nonces moved to Redis (web/siwe.py): they expire by themselves and cost no row per anonymous request."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("web", "0001_dashboard_and_sign_in")]

    operations = [migrations.DeleteModel(name="SiweNonce")]
