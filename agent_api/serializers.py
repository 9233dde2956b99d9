"""Fields and output serializers shared by the API views: amounts as decimal strings, addresses checksummed."""

from __future__ import annotations

from django.core.validators import URLValidator
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field, extend_schema_serializer
from eth_utils import is_hex_address, to_checksum_address
from rest_framework import serializers

from pools.fields import UINT256_DIGITS
from pools.models import BPS, Allocation, ChainTransaction, Deposit, Launch, Pool, Refund
from pools.selectors.refunds import DepositParts, RefundNumbers, credited_total, deposit_parts, pool_refund_numbers
from pools.services.ledger import citation_of
from pools.services.pools import address_problem
from pools.services.token_image import IMAGE_MAX_BYTES, IMAGE_MAX_SIDE, UPLOAD_FORMATS

MAX_WEI = 2**256 - 1
DESCRIPTION_MAX_CHARS = 1_000
LINKS_MAX = 5
LINK_LABEL_MAX_CHARS = 40
LINK_URL_MAX_CHARS = 200


@extend_schema_field({"type": "string", "pattern": f"^[0-9]{{1,{UINT256_DIGITS}}}$", "example": "1000000000000000000"})
class WeiAmount(serializers.Field):
    """An integer amount in the smallest unit, as a decimal string (JSON numbers lose precision above 2**53)."""

    def to_representation(self, value: int) -> str:
        return str(int(value))

    def to_internal_value(self, data) -> int:
        if not isinstance(data, str) or not data.isascii() or not data.isdigit():
            raise serializers.ValidationError('Give amounts as a string of digits in the smallest unit, e.g. "1000".')
        if len(data) > UINT256_DIGITS or int(data) > MAX_WEI:
            raise serializers.ValidationError("At most 2^256 - 1.")
        return int(data)


@extend_schema_field(
    {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$", "example": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}
)
class EthAddress(serializers.CharField):
    """A 20-byte address: accepted in any case (a mixed-case one must have a valid checksum), given back checksummed."""

    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 42)
        super().__init__(**kwargs)

    def to_internal_value(self, data) -> str:
        value = super().to_internal_value(data)
        if problem := address_problem(value, required=True):
            raise serializers.ValidationError(problem)
        return to_checksum_address(value)

    def to_representation(self, value) -> str:
        return to_checksum_address(value) if value and is_hex_address(value) else (value or "")


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^(0x[0-9a-fA-F]{40})?$",
        "example": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "description": "An address, or empty when not set (yet).",
    }
)
class OptionalEthAddress(EthAddress):
    """An address that may be empty: not known yet (a launch's addresses), or meaning "none" (ETH as raise asset)."""

    def run_validation(self, data=serializers.empty):
        # Blank is handled here rather than with allow_blank, which would make the schema an ambiguous oneOf.
        if isinstance(data, str) and data.strip() == "":
            return ""
        return super().run_validation(data)


@extend_schema_field(
    {
        "type": "string",
        "pattern": "^data:image/(png|jpeg|webp|gif);base64,",
        "example": "data:image/png;base64,iVBORw0KGgo…",
        "description": f"The token's image as a data URL ({', '.join(UPLOAD_FORMATS)}; SVG is refused), at most "
        f"{IMAGE_MAX_BYTES:,} bytes decoded and 4096×4096 pixels. It is stored re-encoded as a PNG of at most "
        f"{IMAGE_MAX_SIDE}×{IMAGE_MAX_SIDE} pixels. Leave it out for no image.",
    }
)
class TokenImageUpload(serializers.CharField):
    """A data: URL, passed on as text: the proposal service decodes it and refuses it with a code that says why."""

    def run_validation(self, data=serializers.empty):
        # Blank (no image) is handled here rather than with allow_blank, which would make the schema an ambiguous oneOf.
        if isinstance(data, str) and data.strip() == "":
            return ""
        return super().run_validation(data)


@extend_schema_serializer(component_name="TokenLink")
class TokenLinkSerializer(serializers.Serializer):
    """A link shown on the pool page under the token's description (rel="nofollow ugc", the host name visible)."""

    label = serializers.CharField(max_length=LINK_LABEL_MAX_CHARS, help_text="What people read, e.g. Website.")
    url = serializers.CharField(
        max_length=LINK_URL_MAX_CHARS,
        validators=[URLValidator(schemes=["https"], message="Give an https URL (https://…).")],
        help_text="An https URL.",
    )


class RefundsWaitingSerializer(serializers.Serializer):
    code = serializers.CharField(
        source="waiting_code",
        help_text="What the refunds wait for: fees_too_high, fees_above_cap, gas_account_empty, books_disagree, "
        "or signer_<refusal>.",
    )
    reason = serializers.CharField(source="waiting_reason", help_text="The same, in a sentence.")
    since = serializers.DateTimeField(source="waiting_since", allow_null=True)


class PoolSummarySerializer(serializers.ModelSerializer):
    agent = serializers.CharField(source="agent.name")
    soft_cap = WeiAmount()
    hard_cap = WeiAmount()
    raised = serializers.SerializerMethodField(
        help_text="Credited toward the raise (confirmed, accepted by the crediting rules); 0 once the raise failed or "
        "was cancelled, as everything is then owed back."
    )
    raise_asset = OptionalEthAddress(help_text="ERC-20 address, or empty for native ETH.")
    deposit_address = OptionalEthAddress(help_text="Where depositors send funds; empty until the pool is scheduled.")
    refunds_waiting = serializers.SerializerMethodField(
        help_text="Why the refund job cannot go on now, and since when (it retries by itself); null while it can. "
        "The webhook event pool.refunds_waiting says when it starts or its reason changes."
    )

    class Meta:
        model = Pool
        fields = [
            "id",
            "name",
            "agent",
            "token_name",
            "token_symbol",
            "status",
            "raise_asset",
            "raise_asset_symbol",
            "raise_asset_decimals",
            "soft_cap",
            "hard_cap",
            "raised",
            "opens_at",
            "closes_at",
            "deposit_address",
            "refunds_waiting",
        ]

    @extend_schema_field(WeiAmount())
    def get_raised(self, pool: Pool) -> str:
        return str(credited_total(pool=pool))

    @extend_schema_field(RefundsWaitingSerializer(allow_null=True))
    def get_refunds_waiting(self, pool: Pool) -> dict | None:
        return RefundsWaitingSerializer(pool).data if pool.waiting_code else None


class LaunchSummarySerializer(serializers.ModelSerializer):
    token_address = OptionalEthAddress()
    pair_address = OptionalEthAddress()
    claim_vault_address = OptionalEthAddress()
    vesting_wallet_address = OptionalEthAddress()

    class Meta:
        model = Launch
        fields = [
            "step",
            "merkle_root",
            "token_address",
            "pair_address",
            "claim_vault_address",
            "vesting_wallet_address",
            "launched_at",
        ]


class RefundNumbersSerializer(serializers.Serializer):
    """docs/api.md, "Owed, paid and still owed"."""

    owed = WeiAmount(
        help_text="Everything that must go back: over-cap and refused parts, or every deposit once the raise failed "
        "or was cancelled (deposits without a sender excepted). It only grows, with late deposits."
    )
    paid = WeiAmount(help_text="Paid back: refunds the Refunder's Refunded events settled.")
    still_owed = WeiAmount(
        help_text="owed - paid. Includes refunds not requested yet, those in a batch being sent (`sending`) and those "
        "set aside for manual handling (`set_aside`): they are not paid until a Refunded event says so."
    )
    sending = WeiAmount(help_text="Part of still_owed in a refund batch being sent now.")
    set_aside = WeiAmount(help_text="Part of still_owed an admin set aside for manual handling (no batch pays it).")


class PoolDetailSerializer(PoolSummarySerializer):
    min_contribution = WeiAmount()
    max_contribution = WeiAmount()
    total_supply = WeiAmount()
    max_buy_per_tx = WeiAmount()
    target_price_usd_e8 = WeiAmount()
    refund_owed = serializers.SerializerMethodField(
        help_text="Deprecated, kept for compatibility: the same as refunds.still_owed (it drops as refunds are paid)."
    )
    refunds = serializers.SerializerMethodField()
    fee_recipient = OptionalEthAddress()
    treasury_address = OptionalEthAddress()
    links = TokenLinkSerializer(many=True)
    image_url = serializers.SerializerMethodField(
        help_text="Where the website serves the stored PNG (a path on this site, served once the pool is public); "
        "null without an image."
    )
    launch = serializers.SerializerMethodField()

    class Meta(PoolSummarySerializer.Meta):
        # The model's bps fields are plain integers; the schema should say what the rules allow (at most 10,000).
        extra_kwargs = {
            name: {"max_value": BPS}
            for name in (
                "liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps", "liquidity_raise_bps", "fee_bps",
                "oracle_tolerance_bps",
            )
        }  # fmt: skip
        fields = [
            *PoolSummarySerializer.Meta.fields,
            "status_reason",
            "chain_id",
            "min_contribution",
            "max_contribution",
            "access",
            "whitelist_until",
            "confirmations",
            "total_supply",
            "liquidity_supply_bps",
            "depositor_supply_bps",
            "agent_supply_bps",
            "liquidity_raise_bps",
            "depositor_cliff_seconds",
            "depositor_vesting_seconds",
            "agent_cliff_seconds",
            "agent_vesting_seconds",
            "protection_blocks",
            "max_buy_per_tx",
            "fee_bps",
            "fee_recipient",
            "treasury_address",
            "lp_policy",
            "lp_lock_until",
            "price_mode",
            "target_price_usd_e8",
            "oracle_tolerance_bps",
            "oracle_max_age_seconds",
            "refund_owed",
            "refunds",
            "created_at",
            "closed_at",
            "description",
            "links",
            "image_url",
            "launch",
        ]

    def _refund_numbers(self, pool: Pool) -> RefundNumbers:
        cached = getattr(self, "_numbers", None)
        if cached is None or cached[0] != pool.pk:
            cached = self._numbers = (pool.pk, pool_refund_numbers(pool=pool))
        return cached[1]

    @extend_schema_field(WeiAmount())
    def get_refund_owed(self, pool: Pool) -> str:
        return str(self._refund_numbers(pool).still_owed)

    @extend_schema_field(RefundNumbersSerializer)
    def get_refunds(self, pool: Pool) -> dict:
        return RefundNumbersSerializer(self._refund_numbers(pool)).data

    def get_image_url(self, pool: Pool) -> str | None:
        return reverse("pool-image", args=[pool.pk]) if pool.image_type else None

    @extend_schema_field(LaunchSummarySerializer(allow_null=True))
    def get_launch(self, pool: Pool) -> dict | None:
        launch = Launch.objects.filter(pool=pool).first()
        return LaunchSummarySerializer(launch).data if launch else None


class DepositListSerializer(serializers.ListSerializer):
    """Works out the parts of a page of deposits at once (deposit_parts, a fixed number of queries), not one by one."""

    def to_representation(self, data):
        deposits = list(data.all() if hasattr(data, "all") else data)
        known = self.context.get("deposit_parts", {})  # worked out by the caller for several lists at once
        self.child.parts = known if all(d.pk in known for d in deposits) else deposit_parts(deposits=deposits)
        return super().to_representation(deposits)


class DepositSerializer(serializers.ModelSerializer):
    """A deposit and its split now: once the raise failed or was cancelled, credited is 0 and all of it is owed back
    (refund_reason pool_failed), whatever the crediting rules had decided while it could still launch."""

    sender = EthAddress()
    amount = WeiAmount()
    credited_amount = WeiAmount(help_text="The part counted toward the raise; 0 once the raise failed or is cancelled.")
    refund_amount = WeiAmount(
        help_text="The part owed back (paid or not): the crediting rules' refused part, or all of it once the raise "
        "failed or was cancelled (0 without a sender, no_sender)."
    )
    refund_paid = serializers.SerializerMethodField(help_text="Of refund_amount, what refunds have paid back.")
    refund_still_owed = serializers.SerializerMethodField(
        help_text="refund_amount - refund_paid: not requested yet, in a batch being sent, or set aside."
    )
    parts: dict[int, DepositParts]

    class Meta:
        model = Deposit
        list_serializer_class = DepositListSerializer
        fields = [
            "id",
            "tx_hash",
            "position",
            "kind",
            "sender",
            "amount",
            "status",
            "credited_amount",
            "refund_amount",
            "refund_reason",
            "refund_paid",
            "refund_still_owed",
            "block_number",
            "block_timestamp",
            "seen_at",
        ]

    def _parts(self, deposit: Deposit) -> DepositParts:
        parts = getattr(self, "parts", {})
        if deposit.pk not in parts:  # one deposit alone, not through DepositListSerializer
            parts = self.parts = {**parts, **deposit_parts(deposits=[deposit])}
        return parts[deposit.pk]

    def to_representation(self, deposit: Deposit) -> dict:
        data = super().to_representation(deposit)
        parts = self._parts(deposit)
        data.update(credited_amount=str(parts.credited), refund_amount=str(parts.refund), refund_reason=parts.reason)
        return data

    @extend_schema_field(WeiAmount())
    def get_refund_paid(self, deposit: Deposit) -> str:
        return str(self._parts(deposit).paid)

    @extend_schema_field(WeiAmount())
    def get_refund_still_owed(self, deposit: Deposit) -> str:
        return str(self._parts(deposit).still_owed)


@extend_schema_field(
    {
        "type": "object",
        "description": "The deposit as the enclave signer's evidence cites it: {tx_hash, log_index} for an ERC-20 "
        "Transfer log, {tx_hash} for a transaction's own value, {tx_hash, trace_address} for an internal call.",
        "properties": {
            "tx_hash": {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"},
            "log_index": {"type": "integer", "minimum": 0},
            "trace_address": {"type": "array", "items": {"type": "integer", "minimum": 0}},
        },
        "required": ["tx_hash"],
        "additionalProperties": False,
    }
)
class CitationField(serializers.Field):
    """A deposit's citation in the signer's evidence format (pools.services.ledger.citation_of)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("source", "*")
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, deposit: Deposit) -> dict:
        return citation_of(deposit)


class PublicDepositSerializer(DepositSerializer):
    """A deposit as anyone may see it, with the citation `python -m enclave_signer verify-pool` proves on chain."""

    citation = CitationField()

    class Meta(DepositSerializer.Meta):
        fields = ["citation", *DepositSerializer.Meta.fields]


class RefundSerializer(serializers.ModelSerializer):
    recipient = EthAddress()
    amount = WeiAmount()
    tx_hash = serializers.SerializerMethodField()
    deposits = serializers.PrimaryKeyRelatedField(many=True, read_only=True, help_text="Ids of the deposits it pays.")

    class Meta:
        model = Refund
        fields = [
            "id",
            "recipient",
            "amount",
            "status",
            "tx_hash",
            "deposits",
            "created_at",
            "paid_at",
            "set_aside_at",
            "set_aside_note",
        ]
        extra_kwargs = {
            "set_aside_at": {"help_text": "When an admin set it aside for manual handling: no batch pays it."},
            "set_aside_note": {"help_text": "Why it was set aside, as the admin wrote it (also in the signer's log)."},
        }

    def get_tx_hash(self, refund: Refund) -> str | None:
        return (refund.transaction.tx_hash or None) if refund.transaction_id else None


class AllocationSerializer(serializers.ModelSerializer):
    address = EthAddress()
    contribution = WeiAmount()
    token_amount = WeiAmount()
    proof = serializers.ListField(
        child=serializers.CharField(), help_text="Merkle proof for ClaimVault.claim: 32-byte hashes, hex."
    )

    class Meta:
        model = Allocation
        fields = ["address", "contribution", "token_amount", "proof"]


class ChainTransactionSerializer(serializers.ModelSerializer):
    from_address = EthAddress()
    to_address = EthAddress()
    value = WeiAmount()
    max_fee_per_gas = WeiAmount()
    max_priority_fee_per_gas = WeiAmount()
    effective_gas_price = WeiAmount(allow_null=True)

    class Meta:
        model = ChainTransaction
        fields = [
            "id",
            "purpose",
            "status",
            "tx_hash",
            "from_address",
            "to_address",
            "nonce",
            "value",
            "gas",
            "max_fee_per_gas",
            "max_priority_fee_per_gas",
            "broadcast_count",
            "block_number",
            "gas_used",
            "effective_gas_price",
            "error",
            "created_at",
        ]


class LaunchStatusSerializer(serializers.ModelSerializer):
    pool_id = serializers.IntegerField()
    pool_status = serializers.ChoiceField(choices=Pool.Status.choices, source="pool.status")
    raise_amount = WeiAmount()
    token_address = OptionalEthAddress()
    pair_address = OptionalEthAddress()
    claim_vault_address = OptionalEthAddress()
    vesting_wallet_address = OptionalEthAddress()
    lp_destination = OptionalEthAddress()
    transactions = serializers.SerializerMethodField()

    class Meta:
        model = Launch
        fields = [
            "pool_id",
            "pool_status",
            "step",
            "requested_by",
            "requested_at",
            "updated_at",
            "launched_at",
            "raise_amount",
            "merkle_root",
            "token_address",
            "pair_address",
            "claim_vault_address",
            "vesting_wallet_address",
            "lp_destination",
            "error",
            "attempts",
            "transactions",
        ]

    @extend_schema_field(ChainTransactionSerializer(many=True))
    def get_transactions(self, launch: Launch) -> list[dict]:
        transactions = getattr(launch.pool, "launch_transactions", [])
        return ChainTransactionSerializer(transactions, many=True).data
