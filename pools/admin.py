"""Django admin (staff only): configure pools, preview their launch, schedule / close early / cancel them; see why
their refunds wait and retry them now; set one refund aside for manual handling."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from eth_utils import is_hex_address, to_checksum_address

from pools.errors import ApplicationError
from pools.models import Agent, Deposit, IndexerCursor, Pool, Refund
from pools.selectors.launch_preview import launch_preview
from pools.selectors.refunds import refund_totals_by_status
from pools.services.launch import launch_give_up
from pools.services.pools import (
    pool_cancel,
    pool_close_early,
    pool_configuration_errors,
    pool_schedule,
    pool_set_whitelist,
)
from pools.services.refunds import REFUNDABLE_STATUSES, refund_set_aside, refunds_retry_now
from pools.units import format_units


def _amount(pool: Pool, value: int) -> str:
    return f"{format_units(value, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _failure(exc: Exception) -> str:
    """What an admin reads when a service refuses or a part it calls fails, instead of a server error."""
    return exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"


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


class RefundsWaitingFilter(admin.SimpleListFilter):
    title = "refunds waiting"
    parameter_name = "refunds_waiting"

    def lookups(self, request, model_admin):
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.exclude(waiting_code="")
        if self.value() == "no":
            return queryset.filter(waiting_code="")
        return queryset


@admin.register(Pool)
class PoolAdmin(admin.ModelAdmin):
    form = PoolAdminForm
    list_display = [
        "name",
        "agent",
        "token_symbol",
        "status",
        "raised_display",
        "hard_cap_display",
        "flag",
        "waiting_flag",
    ]
    list_filter = ["status", RefundsWaitingFilter, "access", "price_mode"]
    search_fields = ["name", "token_symbol", "deposit_address", "agent__name"]
    actions = ["schedule", "close_early", "cancel", "give_up_failed_launch"]
    readonly_fields = [
        "status",
        "status_reason",
        "refunds_waiting",
        "deposit_address",
        "derivation_path",
        "raised",
        "refund_owed",
        "balance_difference",
        "balance_checked_at",
        "closed_at",
        "closed_early_at",
        "deposits_link",
        "refunds_link",
        "launch_preview_table",
    ]
    fieldsets = [
        ("Pool", {"fields": ["agent", "name", "status", "status_reason", "refunds_waiting"]}),
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
                    ("deposits_link", "refunds_link"),
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
        return _amount(pool, pool.raised)

    @admin.display(description="hard cap")
    def hard_cap_display(self, pool: Pool) -> str:
        return _amount(pool, pool.hard_cap)

    @admin.display(description="balance", boolean=False)
    def flag(self, pool: Pool) -> str:
        if pool.balance_difference:
            difference = format_units(pool.balance_difference, pool.raise_asset_decimals)
            return format_html('<strong style="color:#b00">⚠ differs by {}</strong>', difference)
        return "✓" if pool.balance_checked_at else "—"

    @admin.display(description="whitelist addresses")
    def whitelist_addresses(self, pool: Pool) -> str:
        # Shown in place of the form field once the configuration is frozen (a non-draft pool's page).
        return "\n".join(pool.whitelist.order_by("address").values_list("address", flat=True))

    @admin.display(description="refunds waiting")
    def waiting_flag(self, pool: Pool) -> str:
        if not pool.waiting_code:
            return ""
        return format_html(
            '<span title="{}">⏸ {} since {}</span>', pool.waiting_reason, pool.waiting_code, _when(pool.waiting_since)
        )

    @admin.display(description="refunds waiting")
    def refunds_waiting(self, pool: Pool) -> str:
        if not pool.waiting_code:
            return ""
        return format_html(
            'Refunds waiting: {} since {} <code>{}</code> · <a href="{}">Retry refunds now</a>',
            pool.waiting_reason,
            _when(pool.waiting_since),
            pool.waiting_code,
            reverse("admin:pools_pool_retry_refunds", args=[pool.pk]),
        )

    @admin.display(description="deposits")
    def deposits_link(self, pool: Pool) -> str:
        url = reverse("admin:pools_deposit_changelist") + f"?pool__id__exact={pool.pk}"
        return format_html('<a href="{}">{} deposits</a>', url, pool.deposits.count())

    @admin.display(description="refunds")
    def refunds_link(self, pool: Pool) -> str:
        if not pool.pk:
            return "—"
        totals = refund_totals_by_status(pool_id=pool.pk)
        url = reverse("admin:pools_refund_changelist") + f"?pool__id__exact={pool.pk}"
        counted = [
            (totals[status].count, label.lower(), _amount(pool, totals[status].amount))
            for status, label in Refund.Status.choices
            if totals[status].count
        ]
        return format_html(
            '<a href="{}">{} refunds</a>{}',
            url,
            sum(total.count for total in totals.values()),
            format_html_join("", ", {} {} ({})", counted),
        )

    @admin.display(description="what the launch would do")
    def launch_preview_table(self, pool: Pool) -> str:
        if not pool.pk:
            return "Save the pool to see a preview."
        rows = launch_preview(pool=pool).lines(pool=pool)
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))

    def _run(self, request, queryset, service, done: str) -> None:
        for pool in queryset:
            self._call(request, pool, service, done)

    def _call(self, request, pool: Pool, service, done: str) -> None:
        """Run one pool's service; the admin says what failed instead of a server error."""
        try:
            service(pool_id=pool.pk)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the admin
            self.message_user(request, f"{pool}: {_failure(exc)}", level=messages.ERROR)
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

    def get_urls(self):
        retry = self.admin_site.admin_view(self.retry_refunds_view)
        return [
            path("<path:object_id>/retry-refunds/", retry, name="pools_pool_retry_refunds"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "retry_refunds_statuses": REFUNDABLE_STATUSES}
        return super().change_view(request, object_id, form_url, extra_context)

    def retry_refunds_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET says what a retry does and what is owed; POST forgets the wait and runs the refund job now."""
        pool = self.get_object(request, unquote(object_id))
        if pool is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, pool):
            raise PermissionDenied
        if request.method == "POST":
            self._call(request, pool, refunds_retry_now, "the refund job runs now.")
            return redirect("admin:pools_pool_change", pool.pk)
        totals = refund_totals_by_status(pool_id=pool.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Retry refunds now",
            "original": pool,
            "pool": pool,
            "since": _when(pool.waiting_since),
            "totals": [
                (label, totals[status].count, _amount(pool, totals[status].amount))
                for status, label in Refund.Status.choices
            ],
        }
        return TemplateResponse(request, "admin/pools/pool/retry_refunds.html", context)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows the services write (from the chain, or the refund job): people look, never add, edit or delete."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Deposit)
class DepositAdmin(ReadOnlyAdmin):
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


def _waiting_to_be_sent(refund: Refund) -> bool:
    """What refund_set_aside accepts: owed, in no batch. The service decides; the admin only offers it then."""
    return refund.status == Refund.Status.OWED and refund.transaction_id is None


class SetAsideForm(forms.Form):
    note = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 5, "cols": 80}),
        help_text="Why this refund is handled by hand (who will pay it, how). Kept with the refund and in the "
        "signer's log.",
    )


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    """Refunds are made and paid by the refund job; people only look, and may set one aside for manual handling."""

    list_display = ["recipient", "pool", "amount_display", "status", "created_at", "paid_at", "set_aside_link"]
    list_filter = ["status"]
    search_fields = ["recipient", "pool__name"]
    list_select_related = ["pool"]
    fields = [  # all read-only: the refund job writes refunds
        "pool",
        "recipient",
        "amount_display",
        "status",
        "transaction",
        "deposits",
        "created_at",
        "paid_at",
        "set_aside_at",
        "set_aside_by",
        "set_aside_note",
        "set_aside_log_index",
    ]
    readonly_fields = fields

    def _may_set_aside(self, request: HttpRequest) -> bool:
        # The admin never edits a refund row; setting one aside (through the service) is what the change permission
        # on refunds allows.
        return request.user.has_perm("pools.change_refund")

    @admin.display(description="amount")
    def amount_display(self, refund: Refund) -> str:
        return _amount(refund.pool, refund.amount)

    @admin.display(description="manual handling")
    def set_aside_link(self, refund: Refund) -> str:
        if not _waiting_to_be_sent(refund):
            return ""
        url = reverse("admin:pools_refund_set_aside", args=[refund.pk])
        return format_html('<a href="{}">Set aside…</a>', url)

    def get_list_display(self, request):
        if self._may_set_aside(request):
            return self.list_display
        return [name for name in self.list_display if name != "set_aside_link"]

    def get_urls(self):
        set_aside = self.admin_site.admin_view(self.set_aside_view)
        return [path("<path:object_id>/set-aside/", set_aside, name="pools_refund_set_aside"), *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        refund = self.get_object(request, unquote(object_id))
        if refund is not None and self._may_set_aside(request) and _waiting_to_be_sent(refund):
            extra_context = {
                **(extra_context or {}),
                "set_aside_url": reverse("admin:pools_refund_set_aside", args=[refund.pk]),
            }
        return super().change_view(request, object_id, form_url, extra_context)

    def set_aside_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET says what setting aside does and asks for a note; POST sets the refund aside through the service."""
        refund = self.get_object(request, unquote(object_id))
        if refund is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self._may_set_aside(request):
            raise PermissionDenied
        form = SetAsideForm(request.POST) if request.method == "POST" else SetAsideForm()
        if request.method == "POST" and form.is_valid():
            try:
                refund_set_aside(refund_id=refund.pk, note=form.cleaned_data["note"], by=request.user.get_username())
            except Exception as exc:  # noqa: BLE001 - the admin says what failed instead of a server error
                self.message_user(request, f"Not set aside: {_failure(exc)}", level=messages.ERROR)
            else:
                self.message_user(
                    request,
                    f"{refund.recipient}'s refund is set aside for manual handling; the others go on without it.",
                    level=messages.SUCCESS,
                )
                return redirect("admin:pools_refund_change", refund.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Set aside for manual handling",
            "original": refund,
            "refund": refund,
            "amount": _amount(refund.pool, refund.amount),
            "deposits": refund.deposits.order_by("block_number", "tx_index", "ordinal"),
            "form": form,
        }
        return TemplateResponse(request, "admin/pools/refund/set_aside.html", context)


@admin.register(IndexerCursor)
class IndexerCursorAdmin(admin.ModelAdmin):
    list_display = ["chain_id", "last_block", "window", "updated_at"]

    def has_change_permission(self, request, obj=None):
        return False
