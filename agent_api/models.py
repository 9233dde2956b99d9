"""What the REST API for agents keeps: API keys, the bounds an admin sets on proposals, idempotency records and
webhooks. Changes go through agent_api/services, never through save() or signals."""

import uuid

from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MaxValueValidator
from django.db import models

from pools.fields import WeiField
from pools.models import BPS, Agent, Pool, PoolEvent
from pools.services.pools import address_problem


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


DAY = 86_400


def every_lp_policy() -> list[str]:
    """Both LP policies: what an agent may choose unless an admin narrows it."""
    return list(Pool.LpPolicy.values)


def _bps(default: int, help_text: str) -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=default, validators=[MaxValueValidator(BPS)], help_text=help_text)


def _seconds(default: int, help_text: str) -> models.PositiveBigIntegerField:
    return models.PositiveBigIntegerField(default=default, help_text=help_text)


class AgentBounds(models.Model):
    """What an agent may propose through the API; an agent without bounds cannot propose pools.

    Every economic parameter a proposal sets has a bound here (the fee recipient through AllowedFeeRecipient).
    The defaults accept the pool defaults and what a reasonable agent proposes today, and refuse what only an
    admin's review used to stop (e.g. 1 bp of the raise to liquidity, nothing for depositors, a ten-year cliff).
    Checked by agent_api/services/proposals.py; docs/api.md lists them.
    """

    agent = models.OneToOneField(Agent, on_delete=models.CASCADE, related_name="bounds")

    # The split of the supply (the three shares add up to 10,000 bps)
    min_liquidity_supply_bps = _bps(2_000, "Smallest share of the supply paired in the liquidity pool.")
    max_liquidity_supply_bps = _bps(8_000, "Largest share of the supply paired in the liquidity pool.")
    min_depositor_supply_bps = _bps(2_000, "Smallest share of the supply for depositors.")
    max_depositor_supply_bps = _bps(8_000, "Largest share of the supply for depositors.")
    min_agent_supply_bps = _bps(0, "Smallest share of the supply for the agent.")
    max_agent_supply_bps = _bps(1_000, "Largest share of the supply for the agent.")

    # The raise and the fee
    min_liquidity_raise_bps = _bps(5_000, "Smallest share of the raise paired in the liquidity pool.")
    min_fee_bps = _bps(100, "The platform fee a proposal must at least pay.")
    max_fee_bps = _bps(1_000, "The platform fee a proposal may at most pay (the platform's own cap is 1,000).")
    max_raise_seconds = _seconds(30 * DAY, "Longest time between a raise's opening and its close.")

    # Vesting: depositors get their tokens soon, the agent gets its own late
    max_depositor_cliff_seconds = _seconds(30 * DAY, "Longest cliff before depositors' tokens start to vest.")
    max_depositor_vesting_seconds = _seconds(
        180 * DAY, "Longest linear vesting of depositors' tokens after their cliff."
    )
    min_agent_cliff_seconds = _seconds(0, "Shortest cliff before the agent's own tokens start to vest.")
    min_agent_vesting_seconds = _seconds(180 * DAY, "Shortest vesting (cliff included) of the agent's own tokens.")

    # Liquidity after the launch
    allowed_lp_policies = models.JSONField(
        default=every_lp_policy, help_text="What may happen to the LP tokens: burn, lock (until a date), or both."
    )
    min_lp_lock_seconds = _seconds(
        180 * DAY, "Shortest LP lock, counted from the raise's close (the earliest launch), for the lock policy."
    )

    # Launch protection (anti-snipe window)
    min_protection_blocks = models.PositiveIntegerField(
        default=0, help_text="Shortest launch protection window, in blocks."
    )
    max_protection_blocks = models.PositiveIntegerField(
        default=300, help_text="Longest launch protection window, in blocks (the Launcher's own cap is 300)."
    )
    max_protection_buy_bps = _bps(
        100, "Largest buy allowed during the protection window, as a share of the total supply."
    )

    # The price oracle the launch checks
    max_oracle_tolerance_bps = _bps(500, "Largest deviation from the expected oracle answer at launch.")
    max_oracle_max_age_seconds = _seconds(
        DAY, "Oldest oracle answer the launch may accept (the USDC/USD feed updates once a day)."
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


def validate_address(value: str) -> None:
    """0x and 40 hexadecimal digits; a mixed-case one must carry a valid checksum (pools' one rule for addresses)."""
    if problem := address_problem(value, required=True):
        raise ValidationError(problem)


class AllowedTreasury(models.Model):
    """An address an agent may name as its pool's treasury; while an agent has none listed, any address will do."""

    bounds = models.ForeignKey(AgentBounds, on_delete=models.CASCADE, related_name="treasuries")
    address = models.CharField(max_length=42, validators=[validate_address])
    label = models.CharField(max_length=100, blank=True, help_text="Whose address it is, for the admin.")

    class Meta:
        ordering = ["bounds", "address"]
        verbose_name = "allowed treasury"
        verbose_name_plural = "allowed treasuries (none listed: any address)"
        constraints = [models.UniqueConstraint(fields=["bounds", "address"], name="allowed_treasury_unique")]

    def __str__(self) -> str:
        return f"{self.address}{f' ({self.label})' if self.label else ''}"


class AllowedFeeRecipient(models.Model):
    """An address an agent may name as its pool's fee recipient. The fee is the platform's: while none is listed, a
    proposal may not name one and the admin's choice at scheduling applies."""

    bounds = models.ForeignKey(AgentBounds, on_delete=models.CASCADE, related_name="fee_recipients")
    address = models.CharField(max_length=42, validators=[validate_address])
    label = models.CharField(max_length=100, blank=True, help_text="Whose address it is, for the admin.")

    class Meta:
        ordering = ["bounds", "address"]
        verbose_name = "allowed fee recipient"
        verbose_name_plural = "allowed fee recipients (none listed: the proposal cannot name one)"
        constraints = [
            models.UniqueConstraint(fields=["bounds", "address"], name="allowed_fee_recipient_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.address}{f' ({self.label})' if self.label else ''}"


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
# A test delivery asked for through the API (POST /webhooks/{id}/test/): sent whatever events the endpoint wants.
PING_EVENT = "ping"
DELIVERY_EVENT_CHOICES = [*WebhookEvent.choices, (PING_EVENT, "A test delivery")]


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
    event = models.CharField(max_length=32, choices=DELIVERY_EVENT_CHOICES)
    payload = models.JSONField(encoder=DjangoJSONEncoder)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(
        null=True,
        blank=True,
        db_index=True,
        help_text="When the next attempt is due; set while the delivery is pending.",
    )
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # A pending delivery always has its next attempt scheduled, so the retry sweep can never miss it.
            models.CheckConstraint(
                condition=~models.Q(status="pending") | models.Q(next_attempt_at__isnull=False),
                name="webhook_delivery_pending_is_scheduled",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} to {self.endpoint.url} ({self.status}, {self.attempts} attempts)"
