"""Agents and their pools. The full launch configuration and deposits arrive with the Raise issue."""

from django.db import models

from pools.fields import WeiField

NATIVE_ASSET = ""  # a pool whose raise_asset is empty raises the chain's native currency (ETH)


class Agent(models.Model):
    """An AI agent that raises funds and launches its own token."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Pool(models.Model):
    """One raise and, if it succeeds, one token launch."""

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        LAUNCHING = "launching", "Launching"
        LAUNCHED = "launched", "Launched"
        REFUNDING = "refunding", "Refunding"
        REFUNDED = "refunded", "Refunded"
        CANCELLED = "cancelled", "Cancelled"

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(max_length=100)
    token_name = models.CharField(max_length=50)
    token_symbol = models.CharField(max_length=11)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    raise_asset = models.CharField(
        max_length=42, blank=True, default=NATIVE_ASSET, help_text="ERC-20 address, or empty for native ETH."
    )
    raise_asset_symbol = models.CharField(max_length=11, default="ETH")
    raise_asset_decimals = models.PositiveSmallIntegerField(default=18)
    soft_cap = WeiField(default=0)
    hard_cap = WeiField(default=0)
    raised = WeiField(default=0, help_text="Credited (confirmed) contributions, in the raise asset's smallest unit.")
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    deposit_address = models.CharField(max_length=42, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hard_cap__gte=models.F("soft_cap")), name="pool_hard_cap_gte_soft"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_symbol})"
