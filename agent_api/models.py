"""What the REST API for agents keeps: API keys, the bounds an admin sets on proposals, idempotency records and
webhooks. Changes go through agent_api/services, never through save() or signals."""

import uuid

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from pools.fields import WeiField
from pools.models import Agent, PoolEvent


class ApiKey(models.Model):
    """An agent's API key: `lp_<prefix>_<secret>`, shown once; only its SHA-256 is stored."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True, help_text="A label to tell keys apart.")
    prefix = models.CharField(max_length=16, unique=True, help_text="Public part of the key, shown in lists.")
    key_hash = models.CharField(max_length=64, help_text="SHA-256 (hex) of the whole key.")
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"lp_{self.prefix}_… ({self.agent}{', revoked' if self.revoked_at else ''})"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AgentBounds(models.Model):
    """What an agent may propose through the API; an agent without bounds cannot propose pools."""

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="bounds")
    min_fee_bps = models.PositiveIntegerField(default=100, help_text="The platform fee a proposal must at least pay.")
    max_agent_supply_bps = models.PositiveIntegerField(default=1_000, help_text="Largest supply share for the agent.")
    min_agent_vesting_seconds = models.PositiveBigIntegerField(
        default=180 * 86_400, help_text="Shortest vesting (cliff included) of the agent's own tokens."
    )
    max_raise_seconds = models.PositiveBigIntegerField(
        default=30 * 86_400, help_text="Longest time between a raise's opening and its close."
    )
    max_pools_in_draft = models.PositiveIntegerField(default=3, help_text="Drafts waiting for an admin at once.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "agent bounds"
        verbose_name_plural = "agent bounds"

    def __str__(self) -> str:
        return f"bounds of {self.agent}"


class AllowedRaiseAsset(models.Model):
    """An asset an agent may raise, with the largest hard cap allowed in it (in its smallest unit)."""

    bounds = models.ForeignKey(AgentBounds, on_delete=models.CASCADE, related_name="raise_assets")
    address = models.CharField(max_length=42, blank=True, help_text="ERC-20 address, or empty for native ETH.")
    symbol = models.CharField(max_length=11, default="ETH")
    decimals = models.PositiveSmallIntegerField(default=18)
    max_hard_cap = WeiField(help_text="In the asset's smallest unit (wei for ETH, 10^-6 for USDC).")

    class Meta:
        ordering = ["bounds", "symbol"]
        constraints = [models.UniqueConstraint(fields=["bounds", "address"], name="allowed_raise_asset_unique")]

    def __str__(self) -> str:
        return f"{self.symbol} up to {self.max_hard_cap}"


class IdempotencyRecord(models.Model):
    """The response to a state-changing request made with an Idempotency-Key: replayed when the key comes again.

    Inserted in the same transaction as the work it records, so a concurrent duplicate waits on the unique index
    and then replays, and a request that failed leaves no record behind.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="idempotency_records")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64, help_text="SHA-256 of method, path and the canonical JSON body.")
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_unique_key_per_api_key")]

    def __str__(self) -> str:
        return f"{self.method} {self.path} [{self.key}] → {self.response_status}"


# Webhooks carry pools' domain events (pools/services/events.py records them; agent_api delivers them).
WebhookEvent = PoolEvent.Kind


class WebhookEndpoint(models.Model):
    """Where an agent wants to hear about its pools; every delivery is signed with the endpoint's secret."""

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField(max_length=500)
    secret = models.CharField(max_length=100, help_text="HMAC-SHA256 key of the signatures (kept to sign).")
    events = models.JSONField(default=list, help_text="Event names this endpoint receives.")
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.url} ({self.agent})"


class WebhookDelivery(models.Model):
    """One event to one endpoint; its attempts and their outcome live here, so a crash never loses track."""

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for (another) attempt"
        DELIVERED = "delivered", "Delivered (2xx)"
        FAILED = "failed", "Gave up after the last attempt"

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event = models.CharField(max_length=32, choices=WebhookEvent.choices)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint.url} ({self.status}, {self.attempts} attempts)"
