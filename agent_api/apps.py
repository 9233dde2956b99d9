from django.apps import AppConfig


class AgentApiConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "agent_api"
    verbose_name = "Agent API"

    def ready(self) -> None:
        # Imports with a side effect, on purpose: the API key scheme registers with drf-spectacular, and the
        # receivers connect to pools' signals.
        from agent_api import receivers, schema  # noqa: F401
