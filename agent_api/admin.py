"""Django admin: agents' API keys (created here, shown once), their proposal bounds, and webhooks."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html

from agent_api.models import (
    AgentBounds,
    AllowedFeeRecipient,
    AllowedRaiseAsset,
    AllowedTreasury,
    ApiKey,
    IdempotencyRecord,
    WebhookDelivery,
    WebhookEndpoint,
)
from agent_api.services.api_keys import api_key_create, api_key_revoke
from agent_api.services.webhooks import webhook_deliveries_requeue
from chain.errors import ChainError
from pools.models import BPS, Pool
from pools.services.pools import InvalidPoolConfiguration, raise_asset_details


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ["key_display", "agent", "name", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["prefix", "name", "agent__name"]
    actions = ["revoke"]
    fields = ["agent", "name", "prefix", "created_at", "last_used_at", "revoked_at"]

    def get_readonly_fields(self, request, obj=None):
        always = ["prefix", "created_at", "last_used_at", "revoked_at"]
        return always if obj is None else ["agent", *always]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")

    @admin.display(description="key")
    def key_display(self, api_key: ApiKey) -> str:
        return f"lp_{api_key.prefix}_…"

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
            return
        new = api_key_create(agent=obj.agent, name=obj.name)
        # The admin goes on with `obj` (history, redirect): make it the row the service created.
        obj.pk, obj.prefix, obj.key_hash, obj.created_at = (
            new.api_key.pk, new.api_key.prefix, new.api_key.key_hash, new.api_key.created_at,
        )  # fmt: skip
        obj._state.adding = False
        messages.warning(
            request,
            format_html(
                "The API key for {}, shown only now — copy it and give it to the agent: <code>{}</code>",
                obj.agent,
                new.key,
            ),
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(prefix=api_key.prefix)
        self.message_user(request, "Revoked: requests with these keys are refused from now on.")


class AllowedRaiseAssetForm(forms.ModelForm):
    """The admin names the asset; its symbol and decimals are the token's own, read from the chain on save."""

    class Meta:
        model = AllowedRaiseAsset
        fields = ["address", "max_hard_cap"]

    def clean(self):
        cleaned = super().clean()
        if "address" not in cleaned or not self.has_changed() or cleaned.get("DELETE"):
            return cleaned
        try:
            asset = raise_asset_details(address=cleaned["address"])
        except InvalidPoolConfiguration as refused:
            self.add_error("address", refused.details.get("raise_asset", refused.message))
        except ChainError as exc:
            self.add_error("address", f"Could not read the token from the chain, try again: {exc}")
        else:
            cleaned["address"] = asset.address
            self.instance.symbol, self.instance.decimals = asset.symbol, asset.decimals
        return cleaned


class AllowedRaiseAssetInline(admin.TabularInline):
    model = AllowedRaiseAsset
    form = AllowedRaiseAssetForm
    fields = ["address", "token_symbol", "token_decimals", "max_hard_cap"]
    readonly_fields = ["token_symbol", "token_decimals"]
    extra = 1

    @admin.display(description="symbol")
    def token_symbol(self, asset: AllowedRaiseAsset) -> str:
        return asset.symbol if asset.pk else "read from the token on save"

    @admin.display(description="decimals")
    def token_decimals(self, asset: AllowedRaiseAsset) -> str:
        return str(asset.decimals) if asset.pk else ""


class AllowedTreasuryInline(admin.TabularInline):
    model = AllowedTreasury
    extra = 0


class AllowedFeeRecipientInline(admin.TabularInline):
    model = AllowedFeeRecipient
    extra = 0


# Each minimum must not exceed its maximum, or no proposal could pass.
_MIN_MAX_PAIRS = [
    ("min_liquidity_supply_bps", "max_liquidity_supply_bps"),
    ("min_depositor_supply_bps", "max_depositor_supply_bps"),
    ("min_agent_supply_bps", "max_agent_supply_bps"),
    ("min_fee_bps", "max_fee_bps"),
    ("min_protection_blocks", "max_protection_blocks"),
]


class AgentBoundsForm(forms.ModelForm):
    allowed_lp_policies = forms.MultipleChoiceField(
        choices=Pool.LpPolicy.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=AgentBounds._meta.get_field("allowed_lp_policies").help_text,
    )

    class Meta:
        model = AgentBounds
        fields = "__all__"  # noqa: DJ007 - staff-only; AgentBoundsAdmin.fieldsets choose what shows

    def clean(self):
        cleaned = super().clean()
        for low, high in _MIN_MAX_PAIRS:
            if cleaned.get(low) is not None and cleaned.get(high) is not None and cleaned[low] > cleaned[high]:
                self.add_error(high, f"Below the minimum ({cleaned[low]}): no proposal could pass.")
        # The three shares of a proposal add up to exactly 10,000 bps: the bounds must leave a split that does.
        shares = ("liquidity", "depositor", "agent")
        lows = [cleaned.get(f"min_{share}_supply_bps") for share in shares]
        highs = [cleaned.get(f"max_{share}_supply_bps") for share in shares]
        if None not in lows and sum(lows) > BPS:
            self.add_error("min_agent_supply_bps", f"The three minimums add up to {sum(lows)}, above 10,000 bps.")
        if None not in highs and sum(highs) < BPS:
            self.add_error("max_agent_supply_bps", f"The three maximums add up to {sum(highs)}, below 10,000 bps.")
        return cleaned


@admin.register(AgentBounds)
class AgentBoundsAdmin(admin.ModelAdmin):
    form = AgentBoundsForm
    list_display = [
        "agent", "min_fee_bps", "max_agent_supply_bps", "min_depositor_supply_bps", "min_liquidity_raise_bps",
        "max_depositor_cliff_seconds", "max_pools_in_draft", "updated_at",
    ]  # fmt: skip
    search_fields = ["agent__name"]
    inlines = [AllowedRaiseAssetInline, AllowedTreasuryInline, AllowedFeeRecipientInline]
    readonly_fields = ["updated_at"]
    fieldsets = [
        (None, {"fields": ["agent", "max_pools_in_draft", "updated_at"]}),
        (
            "Split of the supply",
            {
                "description": "In basis points (10,000 = all of it). The three shares of a proposal add up to "
                "10,000, so the minimums together must leave room for each other.",
                "fields": [
                    ("min_liquidity_supply_bps", "max_liquidity_supply_bps"),
                    ("min_depositor_supply_bps", "max_depositor_supply_bps"),
                    ("min_agent_supply_bps", "max_agent_supply_bps"),
                ],
            },
        ),
        (
            "Raise and fee",
            {"fields": ["min_liquidity_raise_bps", ("min_fee_bps", "max_fee_bps"), "max_raise_seconds"]},
        ),
        (
            "Vesting",
            {
                "description": "In seconds (86,400 a day). Depositors' tokens: at most this long; the agent's own: "
                "at least this long (applies only when the agent takes a share).",
                "fields": [
                    ("max_depositor_cliff_seconds", "max_depositor_vesting_seconds"),
                    ("min_agent_cliff_seconds", "min_agent_vesting_seconds"),
                ],
            },
        ),
        ("Liquidity after the launch", {"fields": ["allowed_lp_policies", "min_lp_lock_seconds"]}),
        (
            "Launch protection",
            {"fields": [("min_protection_blocks", "max_protection_blocks"), "max_protection_buy_bps"]},
        ),
        ("Price oracle", {"fields": [("max_oracle_tolerance_bps", "max_oracle_max_age_seconds")]}),
    ]


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "agent", "active", "created_at"]
    list_filter = ["active"]
    search_fields = ["url", "agent__name"]
    readonly_fields = ["secret", "created_at"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["event", "endpoint", "status", "attempts", "response_status", "next_attempt_at", "created_at"]
    list_filter = ["status", "event"]
    search_fields = ["endpoint__url", "delivery_id"]
    actions = ["retry_now"]

    def has_add_permission(self, request) -> bool:
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in WebhookDelivery._meta.fields]

    @admin.action(description="Retry now (failed ones get one more round of attempts)")
    def retry_now(self, request, queryset):
        queued = webhook_deliveries_requeue(delivery_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(request, f"{queued} deliveries queued.")


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ["key", "api_key", "method", "path", "response_status", "created_at"]
    search_fields = ["key", "path"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
