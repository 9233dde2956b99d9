from django.apps import AppConfig


class PoolsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "pools"
    verbose_name = "Pools"

    def ready(self) -> None:
        from pools import checks  # noqa: F401 - registers the system checks
