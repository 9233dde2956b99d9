"""`Authorization: Bearer lp_<prefix>_<secret>`: the agent behind a valid, unrevoked API key."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework import authentication, exceptions

from agent_api.models import ApiKey
from agent_api.services.api_keys import api_key_mark_used, api_key_matches, api_key_parse_prefix
from pools.models import Agent


@dataclass(frozen=True)
class AgentPrincipal:
    """request.user for a request made with an API key: the agent, not a Django user."""

    agent: Agent
    api_key: ApiKey
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def pk(self) -> int:
        return self.agent.pk

    def __str__(self) -> str:
        return f"agent {self.agent.name} (key lp_{self.api_key.prefix})"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None  # not ours: the view's permissions decide whether anonymous is fine
        key = key.strip()
        prefix = api_key_parse_prefix(key)
        api_key = None
        if prefix is not None:
            api_key = ApiKey.objects.select_related("agent").filter(prefix=prefix).first()
        if api_key is None or not api_key_matches(api_key=api_key, key=key):
            raise exceptions.AuthenticationFailed("The API key is not valid.", code="invalid_api_key")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("The API key was revoked.", code="api_key_revoked")
        api_key_mark_used(api_key=api_key)
        return AgentPrincipal(agent=api_key.agent, api_key=api_key), api_key

    def authenticate_header(self, request) -> str:
        return f'{self.keyword} realm="api"'
