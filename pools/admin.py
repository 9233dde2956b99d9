"""Django admin (staff only): configure pools in people's units (pools/admin_forms.py), preview their launch, and
schedule / close early / launch / cancel them after a page that says what will happen; see why their refunds wait and
retry them now; set one refund aside for manual handling. Every rule is a service's; the admin converts and asks."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Sum
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from eth_utils import to_checksum_address

from pools.admin_forms import ASSET_READINGS, FIELD_LABELS, ConvertedField, PoolAdminForm, shown
from pools.errors import ApplicationError
from pools.models import Agent, Deposit, IndexerCursor, Pool, Refund, TraceGap
from pools.selectors.launch_preview import launch_scenarios
from pools.selectors.refunds import refund_totals_by_status
from pools.selectors.trace_gaps import TRACES_FIX, pool_trace_gaps
from pools.services.launch import cannot_launch_reason, launch_give_up, launch_request
from pools.services.pools import (
    agent_wallet_problem,
    pool_cancel,
    pool_close_early,
    pool_configuration_errors,
    pool_schedule,
    pool_set_whitelist,
)
from pools.services.refunds import REFUNDABLE_STATUSES, refund_set_aside, refunds_retry_now
from pools.services.token_image import token_image_clear
from pools.units import format_units


def _amount(pool: Pool, value: int) -> str:
    return f"{format_units(value, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"


def _when(moment) -> str:
    return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "—"


def _failure(exc: Exception) -> str:
    """What an admin reads when a service refuses or a part it calls fails, instead of a server error."""
    return exc.message if isinstance(exc, ApplicationError) else f"{type(exc).__name__}: {exc}"


class AgentAdminForm(forms.ModelForm):
    class Meta:
        model = Agent
        fields = ["name", "description", "wallet_address"]

    def clean_wallet_address(self) -> str:
        address = self.cleaned_data["wallet_address"].strip()
        problem = agent_wallet_problem(address)
        if problem:
            raise forms.ValidationError(problem)
        return to_checksum_address(address)


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    form = AgentAdminForm
    list_display = ["name", "wallet_address", "created_at"]
    search_fields = ["name", "wallet_address"]


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


@dataclass(frozen=True)
class PoolAction:
    """Something an admin does to a pool through a service, after a page that says what will happen."""

    name: str
    title: str  # the button and the page's title
    confirm: str  # the confirmation button
    done: str
    statuses: frozenset[str]  # the pools it is offered for (the service has the last word)
    run: Callable[[Pool, HttpRequest], object]


def _launch(pool: Pool, request: HttpRequest) -> None:
    launch_request(pool_id=pool.pk, requested_by=f"admin {request.user.get_username()}")


Status = Pool.Status
POOL_ACTIONS = {
    action.name: action
    for action in [
        PoolAction(
            "schedule", "Schedule", "Yes, schedule it", "scheduled: the deposit address is ready",
            frozenset({Status.DRAFT}),
            lambda pool, request: pool_schedule(pool_id=pool.pk, reviewed=request.POST.get(f"reviewed-{pool.pk}")),
        ),
        PoolAction(
            "close_early", "Close early", "Yes, close the raise now", "closed",
            frozenset({Status.OPEN}), lambda pool, request: pool_close_early(pool_id=pool.pk),
        ),
        PoolAction(
            "launch", "Launch", "Yes, launch now", "launch requested: the launch job is on it",
            frozenset({Status.CLOSED}), _launch,
        ),
        PoolAction(
            "give_up_failed_launch", "Refund a failed launch", "Yes, refund every deposit", "refunding",
            frozenset({Status.LAUNCHING}), lambda pool, request: launch_give_up(pool_id=pool.pk),
        ),
        PoolAction(
            "clear_image", "Remove the token image", "Yes, remove the image", "image removed",
            frozenset(Status), lambda pool, request: token_image_clear(pool_id=pool.pk),
        ),
        PoolAction(
            "cancel", "Cancel", "Yes, cancel and refund everyone", "cancelled",
            frozenset({Status.DRAFT, Status.SCHEDULED, Status.OPEN, Status.CLOSED}),
            lambda pool, request: pool_cancel(pool_id=pool.pk),
        ),
    ]
}  # fmt: skip


def _list_action(action: PoolAction):
    """The action on the pools selected in the list: first its confirmation page, then (confirmed) the service."""

    @admin.action(description=f"{action.title}…", permissions=["change"])
    def run(modeladmin: PoolAdmin, request: HttpRequest, queryset) -> TemplateResponse | None:
        pools = list(queryset.select_related("agent"))
        if request.POST.get("confirmed") != "yes":
            return modeladmin._confirmation(request, action, pools, from_list=True)
        for pool in pools:
            modeladmin._call(request, pool, action.run, action.done)
        return None

    run.__name__ = action.name
    return run


def _gap_text(gap: TraceGap) -> str:
    if gap.last_block is None:
        return (
            f"not seen since block {gap.first_block}: the RPC does not serve call traces ({gap.reason}); {TRACES_FIX}"
        )
    missed = f"not seen in blocks {gap.first_block}..{gap.last_block} (the RPC did not serve call traces)"
    if gap.retraced_through < gap.last_block:
        return f"{missed}: being traced again, up to block {gap.retraced_through} so far"
    return (
        f"{missed}, traced again later: found then and credited by the rules if the pool was not yet launching; "
        "if it was, what contracts sent in those blocks shows in the balance difference"
    )


def _frozen(name: str) -> str:
    return f"{name}_shown" if name in HUMAN_FIELDS else name


def _display_setting(name: str):
    """A frozen pool's setting in people's units with the integer stored (the form's fields are gone then)."""
    return admin.display(description=FIELD_LABELS.get(name, name.replace("_", " ")))(
        lambda self, pool: shown(pool, name)
    )


# The settings people type in other units than they are stored in; once frozen each is shown by `<name>_shown`.
HUMAN_FIELDS = frozenset(name for name, field in PoolAdminForm.base_fields.items() if isinstance(field, ConvertedField))
EDITABLE_FIELDSETS = [
    ("Pool", {"fields": ["agent", "name", "status", "status_reason", "refunds_waiting"]}),
    (
        "Raise",
        {
            "fields": [
                "chain_id",
                ("raise_asset", "raise_asset_read"),
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
                ("token_name", "token_symbol"),
                "total_supply",
                ("liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps"),
                ("depositor_cliff_seconds", "depositor_vesting_seconds"),
                ("agent_cliff_seconds", "agent_vesting_seconds"),
                ("protection_blocks", "max_buy_per_tx"),
            ]
        },
    ),
    (
        "Where the raise goes",
        {
            "fields": [
                "liquidity_raise_bps",
                ("fee_bps", "fee_recipient"),
                "treasury_address",
                ("lp_policy", "lp_lock_until"),
            ]
        },
    ),
    ("Token identity, as the agent proposed it", {"fields": ["description", "links_shown", "image_thumbnail"]}),
    (
        "Price and oracle",
        {"fields": [("price_mode", "target_price_usd_e8"), ("oracle_tolerance_bps", "oracle_max_age_seconds")]},
    ),
    (
        "On chain",
        {
            "fields": [
                "deposit_address",
                "derivation_path",
                ("raised_shown", "refund_owed_shown"),
                ("balance_difference_shown", "balance_checked_at"),
                "internal_transfers_watched",
                ("closed_at", "closed_early_at"),
                ("deposits_link", "refunds_link"),
            ]
        },
    ),
]
FROZEN_FIELDSETS = [
    (
        title,
        {"fields": [tuple(map(_frozen, row)) if isinstance(row, tuple) else _frozen(row) for row in opts["fields"]]},
    )
    for title, opts in EDITABLE_FIELDSETS
]


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
    actions = [_list_action(action) for action in POOL_ACTIONS.values()]
    readonly_fields = [
        "status",
        "status_reason",
        "refunds_waiting",
        "chain_id",
        "raise_asset_read",
        "deposit_address",
        "derivation_path",
        "raised_shown",
        "refund_owed_shown",
        "balance_difference_shown",
        "balance_checked_at",
        "internal_transfers_watched",
        "closed_at",
        "closed_early_at",
        "deposits_link",
        "refunds_link",
        "description",
        "links_shown",
        "image_thumbnail",
    ]
    fieldsets = EDITABLE_FIELDSETS

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("agent")

    @staticmethod
    def _is_frozen(obj: Pool | None) -> bool:
        # Once scheduled, the configuration is registered with (and frozen by) the signer.
        return obj is not None and obj.status != Pool.Status.DRAFT

    def get_fieldsets(self, request, obj=None):
        return FROZEN_FIELDSETS if self._is_frozen(obj) else EDITABLE_FIELDSETS

    def get_readonly_fields(self, request, obj=None):
        if self._is_frozen(obj):
            return flatten_fieldsets(FROZEN_FIELDSETS)
        return self.readonly_fields

    def get_form(self, request, obj=None, change=False, **kwargs):
        if self._is_frozen(obj):
            kwargs["form"] = forms.ModelForm  # nothing to edit, nothing to validate
        return super().get_form(request, obj, change, **kwargs)

    def has_delete_permission(self, request, obj=None):
        # A scheduled pool has a deposit address people may send to: it ends by cancelling (refunds), not deleting.
        return super().has_delete_permission(request, obj) and not self._is_frozen(obj)

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

    @admin.display(description="raise asset read on chain")
    def raise_asset_read(self, pool: Pool) -> str:
        if not pool.pk:
            return "Read from the token when you save."
        return f"{pool.raise_asset_symbol}, {pool.raise_asset_decimals} decimals"

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

    @admin.display(description="ETH sent by contracts")
    def internal_transfers_watched(self, pool: Pool) -> str:
        """Seen only through call traces, which some RPCs do not serve: say over which blocks they were missing."""
        if not pool.pk or not pool.is_native:
            return "—"
        gaps = pool_trace_gaps(pool=pool)
        if not gaps:
            return "watched"
        return format_html_join(
            mark_safe("<br>"), '<strong style="color:#b00">⚠ {}</strong>', ((_gap_text(g),) for g in gaps)
        )

    @admin.display(description="deposits")
    def deposits_link(self, pool: Pool) -> str:
        if not pool.pk:
            return "—"
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

    @admin.display(description="links")
    def links_shown(self, pool: Pool) -> str:
        links = [(link.get("label", ""), link.get("url", "")) for link in pool.links if isinstance(link, dict)]
        return format_html_join(mark_safe("<br>"), "{}: <code>{}</code>", links) if links else "—"

    @admin.display(description="image")
    def image_thumbnail(self, pool: Pool) -> str:
        # Inline, not the website's URL: that one serves public pools only, and a draft's image needs a review too.
        if not pool.image_type or not pool.pk:
            return "None: the pages show the symbol's letters."
        return format_html(
            '<img src="data:{};base64,{}" width="96" height="96" style="object-fit:contain" alt="the token image"> '
            '<a href="{}">Remove the image…</a>',
            pool.image_type,
            base64.b64encode(bytes(pool.image)).decode(),
            reverse("admin:pools_pool_action", args=[pool.pk, "clear_image"]),
        )

    # --- actions: each has a page that says what will happen, from the list (several pools) or a pool's page ---

    def _call(self, request, pool: Pool, run: Callable[[Pool, HttpRequest], object], done: str) -> None:
        """Run one pool's service; the admin says what failed instead of a server error."""
        try:
            run(pool, request)
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the admin
            self.message_user(request, f"{pool}: {_failure(exc)}", level=messages.ERROR)
        else:
            self.message_user(request, f"{pool}: {done}", level=messages.SUCCESS)

    def _confirmation(self, request, action: PoolAction, pools: list[Pool], *, from_list: bool) -> TemplateResponse:
        explained = [(pool, _what_happens(action, pool)) for pool in pools]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"{action.title}: are you sure?",
            "action": action,
            "original": pools[0] if len(pools) == 1 else None,
            "explained": explained,
            "from_list": from_list,
            "selected": [pool.pk for pool in pools],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "refused": [pool for pool, what in explained if what.get("refused")],
        }
        return TemplateResponse(request, "admin/pools/pool/confirm_action.html", context)

    def get_urls(self):
        retry = self.admin_site.admin_view(self.retry_refunds_view)
        act = self.admin_site.admin_view(self.action_view)
        return [
            path("<path:object_id>/retry-refunds/", retry, name="pools_pool_retry_refunds"),
            path("<path:object_id>/do/<str:action>/", act, name="pools_pool_action"),
            *super().get_urls(),
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        pool = self.get_object(request, unquote(object_id))
        offered = [a for a in POOL_ACTIONS.values() if pool is not None and pool.status in a.statuses]
        extra_context = {
            **(extra_context or {}),
            "retry_refunds_statuses": REFUNDABLE_STATUSES,
            "pool_actions": offered,
            "launch_preview": _preview_html(pool) if pool is not None else "",
        }
        if self._is_frozen(pool):  # nothing to save: the signer holds the configuration
            extra_context |= {"show_save": False, "show_save_and_continue": False, "show_save_and_add_another": False}
        return super().change_view(request, object_id, form_url, extra_context)

    def action_view(self, request: HttpRequest, object_id: str, action: str) -> HttpResponse:
        """GET says what the action will do to this pool; POST does it through the service."""
        pool = self.get_object(request, unquote(object_id))
        if pool is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if action not in POOL_ACTIONS:
            raise Http404(f"No action {action!r}.")
        if not self.has_change_permission(request, pool):
            raise PermissionDenied
        if request.method == "POST":
            self._call(request, pool, POOL_ACTIONS[action].run, POOL_ACTIONS[action].done)
            return redirect("admin:pools_pool_change", pool.pk)
        return self._confirmation(request, POOL_ACTIONS[action], [pool], from_list=False)

    def retry_refunds_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """GET says what a retry does and what is owed; POST forgets the wait and runs the refund job now."""
        pool = self.get_object(request, unquote(object_id))
        if pool is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_change_permission(request, pool):
            raise PermissionDenied
        if request.method == "POST":
            self._call(
                request, pool, lambda pool, request: refunds_retry_now(pool_id=pool.pk), "the refund job runs now."
            )
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


def _preview_html(pool: Pool) -> str:
    try:
        scenarios = launch_scenarios(pool=pool)
    except ValueError as exc:  # a split beyond 100%: only an old or hand-made row can hold one (the form refuses it)
        return f"No preview: {exc}"
    return render_to_string("admin/pools/pool/_launch_preview.html", {"scenarios": scenarios})


for _name in (*HUMAN_FIELDS, *ASSET_READINGS):
    setattr(PoolAdmin, f"{_name}_shown", _display_setting(_name))


def _what_happens(action: PoolAction, pool: Pool) -> dict:
    """What the confirmation page says about one pool: the facts the action acts on, and why it would be refused."""
    deposits = Deposit.objects.filter(pool=pool).aggregate(count=Count("pk"), total=Sum("amount"))
    facts = {
        "raised": _amount(pool, pool.raised),
        "soft_cap": _amount(pool, pool.soft_cap),
        "deposits": deposits["count"],
        "deposited": _amount(pool, int(deposits["total"] or 0)),
        "soft_cap_met": pool.raised >= pool.soft_cap,
        "reviewed": pool.updated_at.isoformat(),  # the version confirmed: a draft its agent changed since is refused
    }
    if pool.status not in action.statuses:
        facts["refused"] = f"It is {pool.get_status_display().lower()}: {action.title.lower()} is not possible."
    elif action.name == "launch":
        facts["refused"] = cannot_launch_reason(pool=pool)
        facts["preview"] = _preview_html(pool)
    elif action.name == "clear_image" and not pool.image_type:
        facts["refused"] = "It has no image."
    elif action.name == "schedule":
        facts["problems"] = pool_configuration_errors(pool=pool, for_schedule=True)
        facts["refused"] = "; ".join(facts["problems"].values())
    return facts


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
        "amount_display",
        "credited_display",
        "refund_display",
        "refund_reason",
        "status",
        "block_number",
    ]
    list_filter = ["status", "refund_reason", "kind"]
    search_fields = ["sender", "tx_hash", "pool__name"]
    list_select_related = ["pool"]

    @admin.display(description="amount", ordering="amount")
    def amount_display(self, deposit: Deposit) -> str:
        return _amount(deposit.pool, deposit.amount)

    @admin.display(description="credited")
    def credited_display(self, deposit: Deposit) -> str:
        return _amount(deposit.pool, deposit.credited_amount)

    @admin.display(description="owed back")
    def refund_display(self, deposit: Deposit) -> str:
        return _amount(deposit.pool, deposit.refund_amount)


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
