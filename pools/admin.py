"""Django admin (staff only): configure pools, preview their launch, schedule / close early / cancel them."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from eth_utils import is_hex_address, to_checksum_address

from pools.errors import ApplicationError
from pools.models import Agent, Deposit, IndexerCursor, Pool
from pools.selectors.launch_preview import launch_preview
from pools.services.launch import launch_give_up
from pools.services.pools import (
    pool_cancel,
    pool_close_early,
    pool_configuration_errors,
    pool_schedule,
    pool_set_whitelist,
)
from pools.units import format_units


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "wallet_address", "created_at"]
    search_fields = ["name", "wallet_address"]


class PoolAdminForm(forms.ModelForm):
    whitelist_addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text="One address per line. Used when access is whitelist-only or whitelist-first.",
    )

    class Meta:
        model = Pool
        exclude = []  # noqa: DJ006 - the admin's fieldsets choose the fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["whitelist_addresses"].initial = "\n".join(
                self.instance.whitelist.order_by("address").values_list("address", flat=True)
            )

    def clean_whitelist_addresses(self) -> list[str]:
        addresses, bad = [], []
        for line in self.cleaned_data["whitelist_addresses"].split():
            (addresses if is_hex_address(line) else bad).append(line)
        if bad:
            raise forms.ValidationError(f"Not addresses: {', '.join(bad[:5])}")
        return sorted({to_checksum_address(address) for address in addresses})

    def clean(self):
        cleaned = super().clean()
        if self.errors:
            return cleaned
        candidate = self.instance
        for field, value in cleaned.items():
            if hasattr(candidate, field) and field != "whitelist_addresses":
                setattr(candidate, field, value)
        errors = pool_configuration_errors(pool=candidate)
        if candidate.status == Pool.Status.DRAFT and candidate.opens_at and candidate.opens_at <= timezone.now():
            errors["opens_at"] = "The opening time must be in the future."
        for field, message in errors.items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    form = PoolAdminForm
    list_display = ["name", "agent", "token_symbol", "status", "raised_display", "hard_cap_display", "flag"]
    list_filter = ["status", "access", "price_mode"]
    search_fields = ["name", "token_symbol", "deposit_address", "agent__name"]
    actions = ["schedule", "close_early", "cancel", "give_up_failed_launch"]
    readonly_fields = [
        "status",
        "status_reason",
        "deposit_address",
        "derivation_path",
        "raised",
        "refund_owed",
        "balance_difference",
        "balance_checked_at",
        "closed_at",
        "closed_early_at",
        "deposits_link",
        "launch_preview_table",
    ]
    fieldsets = [
        ("Pool", {"fields": ["agent", "name", "status", "status_reason"]}),
        (
            "Raise",
            {
                "fields": [
                    "chain_id",
                    ("raise_asset", "raise_asset_symbol", "raise_asset_decimals"),
                    ("soft_cap", "hard_cap"),
                    ("min_contribution", "max_contribution"),
                    ("opens_at", "closes_at"),
                    ("access", "whitelist_until"),
                    "whitelist_addresses",
                    "confirmations",
                ]
            },
        ),
        (
            "Token and split",
            {
                "fields": [
                    ("token_name", "token_symbol", "total_supply"),
                    ("liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps"),
                    "liquidity_raise_bps",
                    ("depositor_cliff_seconds", "depositor_vesting_seconds"),
                    ("agent_cliff_seconds", "agent_vesting_seconds"),
                    ("protection_blocks", "max_buy_per_tx"),
                ]
            },
        ),
        (
            "Funds, liquidity and price",
            {
                "fields": [
                    ("fee_bps", "fee_recipient"),
                    "treasury_address",
                    ("lp_policy", "lp_lock_until"),
                    ("price_mode", "target_price_usd_e8"),
                    ("oracle_tolerance_bps", "oracle_max_age_seconds"),
                ]
            },
        ),
        ("Launch preview (with the current raise)", {"fields": ["launch_preview_table"]}),
        (
            "On chain",
            {
                "fields": [
                    "deposit_address",
                    "derivation_path",
                    ("raised", "refund_owed"),
                    ("balance_difference", "balance_checked_at"),
                    ("closed_at", "closed_early_at"),
                    "deposits_link",
                ]
            },
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")

    def get_readonly_fields(self, request, obj=None):
        # Once scheduled, the configuration is registered with (and frozen by) the signer.
        if obj is not None and obj.status != Pool.Status.DRAFT:
            editable_never = [f.name for f in Pool._meta.fields] + ["whitelist_addresses"]
            return list(dict.fromkeys(self.readonly_fields + editable_never))
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status != Pool.Status.DRAFT:
            kwargs["form"] = forms.ModelForm  # nothing to edit, nothing to validate
        return super().get_form(request, obj, change, **kwargs)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if "whitelist_addresses" in form.cleaned_data:
            pool_set_whitelist(pool_id=form.instance.pk, addresses=form.cleaned_data["whitelist_addresses"])

    @admin.display(description="raised")
    def raised_display(self, pool: Pool) -> str:
        return f"{format_units(pool.raised, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"

    @admin.display(description="hard cap")
    def hard_cap_display(self, pool: Pool) -> str:
        return f"{format_units(pool.hard_cap, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"

    @admin.display(description="balance", boolean=False)
    def flag(self, pool: Pool) -> str:
        if pool.balance_difference:
            difference = format_units(pool.balance_difference, pool.raise_asset_decimals)
            return format_html('<strong style="color:#b00">⚠ differs by {}</strong>', difference)
        return "✓" if pool.balance_checked_at else "—"

    @admin.display(description="deposits")
    def deposits_link(self, pool: Pool) -> str:
        url = reverse("admin:pools_deposit_changelist") + f"?pool__id__exact={pool.pk}"
        return format_html('<a href="{}">{} deposits</a>', url, pool.deposits.count())

    @admin.display(description="what the launch would do")
    def launch_preview_table(self, pool: Pool) -> str:
        if not pool.pk:
            return "Save the pool to see a preview."
        rows = launch_preview(pool=pool).lines(pool=pool)
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    def _run(self, request, queryset, service, done: str) -> None:
        for pool in queryset:
            try:
                service(pool_id=pool.pk)
            except ApplicationError as exc:
                self.message_user(request, f"{pool}: {exc.message}", level=messages.ERROR)
            except Exception as exc:  # noqa: BLE001 - the admin says what failed instead of a server error
                self.message_user(request, f"{pool}: {type(exc).__name__}: {exc}", level=messages.ERROR)
            else:
                self.message_user(request, f"{pool}: {done}", level=messages.SUCCESS)

    @admin.action(description="Schedule: get a deposit address from the signer and freeze the configuration")
    def schedule(self, request, queryset):
        self._run(request, queryset, pool_schedule, "scheduled")

    @admin.action(description="Close early (deposits from now on are owed back)")
    def close_early(self, request, queryset):
        self._run(request, queryset, pool_close_early, "closed")

    @admin.action(description="Refund a failed launch in full (after the launch job gave up)")
    def give_up_failed_launch(self, request, queryset):
        self._run(request, queryset, launch_give_up, "refunding")

    @admin.action(description="Cancel (every deposit is refunded)")
    def cancel(self, request, queryset):
        self._run(request, queryset, pool_cancel, "cancelled")


@admin.register(Deposit)
class DepositAdmin(admin.ModelAdmin):
    list_display = [
        "pool",
        "sender",
        "amount",
        "credited_amount",
        "refund_amount",
        "refund_reason",
        "status",
        "block_number",
    ]
    list_filter = ["status", "refund_reason", "kind"]
    search_fields = ["sender", "tx_hash", "pool__name"]
    list_select_related = ["pool"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IndexerCursor)
class IndexerCursorAdmin(admin.ModelAdmin):
    list_display = ["chain_id", "last_block", "window", "updated_at"]

    def has_change_permission(self, request, obj=None):
        return False
