"""The pool form of the admin: people type amounts in the asset's units, shares in percent and durations in days and
hours; the model stores integers of the smallest unit, bps and seconds, exactly. Each input shows what it stores."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError
from eth_utils import is_hex_address, to_checksum_address

from chain.errors import ChainError
from enclave_signer.allocation import TOKEN_DECIMALS
from pools.models import Pool
from pools.selectors.feeds import default_oracle_max_age
from pools.selectors.launch_preview import USD_DECIMALS
from pools.services.pools import InvalidPoolConfiguration, pool_configuration_errors, raise_asset_details
from pools.units import UnitsError, format_duration, format_units, parse_duration, parse_units

BPS_DECIMALS = 2  # 1 bps = 0.01 %


def smallest_unit(symbol: str) -> str:
    """What the integers of an asset count: wei for ETH (the only asset raise_asset_details calls ETH)."""
    return "wei" if symbol == "ETH" else "smallest units"


class ConvertedInput(forms.TextInput):
    """A text input with its unit after it and, under it, the integer it stores (kept current by admin_units.js)."""

    template_name = "pools/widgets/converted_input.html"

    def __init__(self, *, parse: Callable[[str], int], unit: str, stored: str, decimals: int | None, attrs=None):
        super().__init__(attrs={"size": 28, "autocomplete": "off", **(attrs or {})})
        self.parse, self.unit, self.stored, self.decimals = parse, unit, stored, decimals

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        data = {"data-stored": self.stored}
        data |= {"data-duration": "1"} if self.decimals is None else {"data-decimals": str(self.decimals)}
        context["widget"]["attrs"].update(data)
        context["widget"] |= {"unit": self.unit, "stored": self.stored, "conversion": self.conversion(value)}
        return context

    def conversion(self, value) -> str:
        """The integer a well-formed value stores, by its field's own parse, grouped; "" while it does not parse."""
        try:
            return f"{self.parse(str(value or '')):,}"
        except UnitsError:
            return ""

    class Media:
        js = ["js/admin_units.js"]


class ConvertedField(forms.CharField):
    """Text in people's units ↔ an integer of the stored unit. Subclasses say how to parse and show."""

    stored = ""
    decimals: int | None = None  # None: a duration

    def __init__(self, *, unit: str = "", blank_is_zero: bool = False, **kwargs):
        self.unit, self.blank_is_zero = unit, blank_is_zero
        kwargs.setdefault("required", not blank_is_zero)
        super().__init__(**kwargs)
        self.widget = self.make_widget()

    def make_widget(self) -> ConvertedInput:
        # The field's parse goes with the widget: set_asset makes a new widget whenever the decimals change.
        return ConvertedInput(parse=self.parse, unit=self.unit, stored=self.stored, decimals=self.decimals)

    def parse(self, text: str) -> int:
        return parse_units(text, self.decimals, unit=self.unit)

    def show(self, value: int) -> str:
        return format_units(value, self.decimals)

    def prepare_value(self, value):
        return self.show(value) if isinstance(value, int) else value

    def to_python(self, value):
        text = super().to_python(value)
        if text in self.empty_values:
            return 0 if self.blank_is_zero else None
        try:
            return self.parse(text)
        except UnitsError as exc:
            raise ValidationError(str(exc), code="units") from exc


class AmountField(ConvertedField):
    """An amount of an asset or token with `decimals`: "25,000.5" ↔ 25000500000 (USDC's 6 decimals)."""

    def __init__(self, *, decimals: int, stored: str = "smallest units", **kwargs):
        self.decimals, self.stored = decimals, stored
        super().__init__(**kwargs)

    def set_asset(self, *, symbol: str, decimals: int) -> None:
        """Show and read amounts of this asset (the pool's raise asset is known once the form knows the pool)."""
        self.unit, self.decimals, self.stored = symbol, decimals, smallest_unit(symbol)
        self.widget = self.make_widget()


class PercentField(ConvertedField):
    """A share in percent with at most two decimals: "12.5" ↔ 1,250 basis points."""

    decimals, stored = BPS_DECIMALS, "bps"

    def __init__(self, **kwargs):
        super().__init__(unit="%", **kwargs)


class UsdField(ConvertedField):
    """Dollars with up to 8 decimals, as the price feeds count them: "0.0001" ↔ 10,000."""

    decimals, stored = USD_DECIMALS, "USD × 10⁸"

    def __init__(self, **kwargs):
        super().__init__(unit="USD", **kwargs)

    def parse(self, text: str) -> int:
        return super().parse(text.strip().removeprefix("$"))


class DurationField(ConvertedField):
    """A duration in days and hours (minutes and seconds too): "30 days 12 hours" ↔ 2,635,200 seconds."""

    decimals, stored = None, "seconds"

    def __init__(self, **kwargs):
        kwargs.setdefault("blank_is_zero", True)
        super().__init__(**kwargs)

    def parse(self, text: str) -> int:
        return parse_duration(text)

    def show(self, value: int) -> str:
        return format_duration(value)


class AssetAmountField(AmountField):
    """An amount of the raise asset: its decimals are the token's, read on chain while the form is cleaned, so the
    text is kept until then (`PoolAdminForm.clean` converts it)."""

    def to_python(self, value):
        text = forms.CharField.to_python(self, value)
        return "0" if text in self.empty_values and self.blank_is_zero else text


# --- the pool form ------------------------------------------------------------------------------------------------

ASSET_AMOUNTS = ("soft_cap", "hard_cap", "min_contribution", "max_contribution")
ASSET_READINGS = ("raised", "refund_owed", "balance_difference")  # kept by the indexer, shown like the caps
TOKEN_AMOUNTS = ("total_supply", "max_buy_per_tx")


def _asset_amount(label: str, help_text: str, **kwargs) -> AssetAmountField:
    return AssetAmountField(label=label, decimals=18, unit="ETH", help_text=help_text, **kwargs)


def _tokens(label: str, help_text: str, **kwargs) -> AmountField:
    return AmountField(
        label=label, decimals=TOKEN_DECIMALS, unit="tokens", stored="token units", help_text=help_text, **kwargs
    )


def _percent(label: str, help_text: str, **kwargs) -> PercentField:
    return PercentField(label=label, help_text=help_text, **kwargs)


def _duration(label: str, help_text: str, **kwargs) -> DurationField:
    return DurationField(label=label, help_text=help_text, **kwargs)


def _address(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=42,
        help_text=help_text,
        widget=forms.TextInput(attrs={"size": 44, "spellcheck": "false"}),
    )


class PoolAdminForm(forms.ModelForm):
    """A draft pool's configuration in people's units. Every rule is the services' (pool_configuration_errors and
    raise_asset_details): the form converts units and reports, it decides nothing of its own."""

    raise_asset = forms.CharField(
        label="Raise asset",
        required=False,
        max_length=42,
        widget=forms.TextInput(attrs={"size": 44, "spellcheck": "false", "placeholder": "empty: ETH"}),
        help_text="What depositors send: leave empty for ETH, or an ERC-20 token's address. Its symbol and decimals "
        "are read from the token on chain when you save; a contract that does not answer symbol() and decimals() "
        "is refused.",
    )
    soft_cap = _asset_amount(
        "Soft cap", "The least the raise must reach to launch. Below it at the close, every deposit is refunded."
    )
    hard_cap = _asset_amount(
        "Hard cap", "The most the raise accepts. Deposits beyond it are refunded; reaching it lets the launch start "
        "before the close."
    )  # fmt: skip
    min_contribution = _asset_amount(
        "Minimum per wallet", "A wallet's deposits in total below this are refunded. Empty or 0: no minimum.",
        blank_is_zero=True,
    )  # fmt: skip
    max_contribution = _asset_amount(
        "Maximum per wallet", "A wallet's deposits beyond this in total are refunded. Empty or 0: no maximum.",
        blank_is_zero=True,
    )  # fmt: skip
    total_supply = _tokens("Total supply", "Every token that will ever exist, minted once at launch (18 decimals).")
    max_buy_per_tx = _tokens(
        "Largest buy during protection", "The most tokens one buy may take during the anti-snipe window after "
        "launch. Required when the window is on; empty or 0 otherwise.", blank_is_zero=True,
    )  # fmt: skip
    liquidity_supply_bps = _percent(
        "Supply to the liquidity pool", "Share of the supply paired with the raise in the new Uniswap V2 pool."
    )
    depositor_supply_bps = _percent(
        "Supply to depositors", "Share of the supply the depositors claim, pro rata to what they put in."
    )
    agent_supply_bps = _percent(
        "Supply to the agent",
        "Share of the supply for the agent, in a vesting wallet. The three shares add up to 100%.",
    )
    liquidity_raise_bps = _percent(
        "Raise to the liquidity pool", "Share of the raise paired with tokens in the pool; with the fee taken, the "
        "rest goes to the treasury."
    )  # fmt: skip
    fee_bps = _percent("Platform fee", "Share of the raise paid to the fee recipient at launch (at most 10%).")
    oracle_tolerance_bps = _percent(
        "Oracle tolerance", "How far the price feed may move between the launch being signed and being mined before "
        "the launch reverts (at most 20%)."
    )  # fmt: skip
    depositor_cliff_seconds = _duration(
        "Depositor cliff", "After launch, nothing the depositors were allocated can be claimed before this."
    )
    depositor_vesting_seconds = _duration(
        "Depositor vesting", "Depositors' tokens unlock evenly over this (after the cliff). 0: all at once."
    )
    agent_cliff_seconds = _duration("Agent cliff", "After launch, the agent's tokens stay locked this long.")
    agent_vesting_seconds = _duration("Agent vesting", "The agent's tokens unlock evenly over this, after the cliff.")
    oracle_max_age_seconds = _duration(
        "Oracle freshness",
        "The launch refuses a price feed answer older than this. Empty: the feed's heartbeat (ETH/USD or USDC/USD, "
        "CHAIN_ETH_USD_FEED_HEARTBEAT / CHAIN_USDC_USD_FEED_HEARTBEAT).",
        blank_is_zero=False,
        required=False,
    )
    target_price_usd_e8 = UsdField(
        label="Target price (USD per token)",
        blank_is_zero=True,
        help_text="Only for a USD-target price: the launch price of one token in dollars, converted through the "
        "price feed at launch; liquidity tokens beyond what that price needs are burned.",
    )
    fee_recipient = _address("Fee recipient", "Receives the platform fee at launch. Required to schedule.")
    treasury_address = _address(
        "Treasury", "Receives the raise beyond the liquidity share and the fee, at launch. Required to schedule."
    )
    whitelist_addresses = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "cols": 60}),
        help_text="One address per line. Used when access is whitelist-only or whitelist-first.",
    )

    class Meta:
        model = Pool
        exclude = []  # noqa: DJ006 - the admin's fieldsets choose the fields
        help_texts = {
            "name": "How the pool is listed on the website.",
            "opens_at": "When deposits start to count. Must be in the future; before it, deposits are refunded.",
            "closes_at": "When the raise ends. Deposits after it are refunded.",
            "access": "Who may deposit: anyone, whitelisted addresses only, or whitelisted first and anyone after.",
            "whitelist_until": "End of the whitelist-only phase (whitelisted first, then anyone).",
            "confirmations": "Blocks on top of a deposit's block before it counts.",
            "token_name": "The token's name, as wallets show it.",
            "token_symbol": "2 to 11 capital letters and digits, starting with a letter.",
            "protection_blocks": "Anti-snipe window: for this many blocks after launch, one buy takes at most the "
            "largest buy below (0: off, at most 300).",
            "lp_policy": "What happens to the pool's LP tokens: burned forever, or locked until a date.",
            "lp_lock_until": "For locked LP tokens: when they unlock (to the treasury).",
            "price_mode": "Implied: the launch price is the raise's liquidity share over the supply's liquidity share. "
            "USD target: the price below, through the oracle.",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.raise_asset = None
        for name in ASSET_AMOUNTS:
            self.fields[name].set_asset(
                symbol=self.instance.raise_asset_symbol or "ETH", decimals=self.instance.raise_asset_decimals
            )
        if self.instance.pk:
            self.fields["whitelist_addresses"].initial = "\n".join(
                self.instance.whitelist.order_by("address").values_list("address", flat=True)
            )
        else:
            self.initial["oracle_max_age_seconds"] = ""  # empty: the feed's heartbeat, unless the admin says

    def clean_raise_asset(self) -> str:
        try:
            self.raise_asset = raise_asset_details(address=self.cleaned_data["raise_asset"].strip())
        except InvalidPoolConfiguration as exc:
            raise ValidationError(exc.details.get("raise_asset", exc.message)) from exc
        except ChainError as exc:
            raise ValidationError(f"The token could not be read, the chain did not answer ({exc}): try again.") from exc
        return self.raise_asset.address

    def clean_whitelist_addresses(self) -> list[str]:
        addresses, bad = [], []
        for line in self.cleaned_data["whitelist_addresses"].split():
            (addresses if is_hex_address(line) else bad).append(line)
        if bad:
            raise ValidationError(f"Not addresses: {', '.join(bad[:5])}")
        return sorted({to_checksum_address(address) for address in addresses})

    def _convert_asset_amounts(self, cleaned: dict) -> None:
        """Now that the token's decimals are known, the typed amounts become integers of its smallest unit."""
        for name in ASSET_AMOUNTS:
            if name not in cleaned:
                continue
            if self.raise_asset is None:
                del cleaned[name]  # unreadable asset: its error says why; no amount can be converted
                continue
            field = self.fields[name]
            field.set_asset(symbol=self.raise_asset.symbol, decimals=self.raise_asset.decimals)
            try:
                cleaned[name] = field.parse(cleaned[name])
            except UnitsError as exc:
                self.add_error(name, str(exc))

    def clean(self):
        cleaned = super().clean()
        self._convert_asset_amounts(cleaned)
        if self.errors:
            return cleaned
        if cleaned.get("oracle_max_age_seconds") is None:
            cleaned["oracle_max_age_seconds"] = default_oracle_max_age(raise_asset=self.raise_asset.address)
        candidate = self.instance
        candidate.raise_asset_symbol, candidate.raise_asset_decimals = (
            self.raise_asset.symbol,
            self.raise_asset.decimals,
        )
        for field, value in cleaned.items():
            if hasattr(candidate, field) and field != "whitelist_addresses":
                setattr(candidate, field, value)
        for field, message in pool_configuration_errors(pool=candidate).items():
            self.add_error(field if field in self.fields else None, message)
        return cleaned


FIELD_LABELS = {
    **{name: field.label for name, field in PoolAdminForm.base_fields.items() if field.label},
    "raised": "Raised (credited)",
    "refund_owed": "Owed back",
    "balance_difference": "Balance difference",
}


def shown(pool: Pool, name: str) -> str:
    """A frozen pool's setting as people read it, and the integer stored: "10 ETH = 10,000,000,000,000,000,000 wei"."""
    field = PoolAdminForm.base_fields.get(name)
    value = getattr(pool, name)
    if name in ASSET_AMOUNTS or name in ASSET_READINGS:
        unit, text = pool.raise_asset_symbol, format_units(value, pool.raise_asset_decimals)
        stored = smallest_unit(pool.raise_asset_symbol)
    elif name in TOKEN_AMOUNTS:
        unit, text, stored = pool.token_symbol, field.show(value), "token units"
    else:
        unit, text, stored = field.unit, field.show(value), field.stored
    amount = f"{text}%" if unit == "%" else " ".join(filter(None, [text, unit]))
    return f"{amount} = {value:,} {stored}"
