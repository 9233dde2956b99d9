from django.apps import AppConfig


class AgentApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agent_api"
    verbose_name = "Agent API"

    def ready(self) -> None:
        # Registers the API key scheme with drf-spectacular (an import with a side effect, on purpose).
        from agent_api import schema  # noqa: F401
