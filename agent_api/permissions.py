from rest_framework.permissions import BasePermission

from agent_api.models import ApiKey


class IsAgent(BasePermission):
    """The request carries a valid agent API key."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ApiKey)
