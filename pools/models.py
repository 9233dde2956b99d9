"""Agents, pools and their launch configuration, deposits, the indexer's state, launches, refunds, and the events
other rooms read.

Amounts are integers in the raise asset's smallest unit (WeiField); token amounts in the token's (18 decimals).
State changes go through pools/services, never through save() or signals.
"""

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from pools.fields import SignedWeiField, WeiField

NATIVE_ASSET = ""  # a pool whose raise_asset is empty raises the chain's native currency (ETH)
BPS = 10_000  # basis points in a whole
DEAD_ADDRESS = "0x000000000000000000000000000000000000dEaD"


def configured_chain_id() -> int:
    return settings.CHAIN_ID


class Agent(models.Model):
    """An AI agent that raises funds and launches its own token."""

    name = models.CharField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    wallet_address = models.CharField(
        max_length=42, blank=True, help_text="The agent's own address: beneficiary of its token vesting wallet."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class PoolManager(models.Manager):
    """Pools without their image's bytes: pages and polls read pools all the time and the logo almost never (the
    image view reads it by itself, with values_list)."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("image")


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

    class Access(models.TextChoices):
        PUBLIC = "public", "Anyone"
        WHITELIST = "whitelist", "Whitelisted addresses only"
        WHITELIST_THEN_PUBLIC = "whitelist_then_public", "Whitelisted first, then anyone"

    class LpPolicy(models.TextChoices):
        BURN = "burn", "Burn the LP tokens"
        LOCK = "lock", "Lock the LP tokens until a date"

    class PriceMode(models.TextChoices):
        IMPLIED = "implied", "Implied by the split (liquidity tokens : liquidity funds)"
        USD_TARGET = "usd_target", "A USD price per token, through the oracle"

    agent = models.ForeignKey(Agent, on_delete=models.PROTECT, related_name="pools")
    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    status_reason = models.CharField(max_length=200, blank=True, help_text="Why the pool is in its status.")

    # The raise
    chain_id = models.PositiveBigIntegerField(default=configured_chain_id)
    raise_asset = models.CharField(
        max_length=42, blank=True, default=NATIVE_ASSET, help_text="ERC-20 address, or empty for native ETH."
    )
    raise_asset_symbol = models.CharField(max_length=11, default="ETH")
    raise_asset_decimals = models.PositiveSmallIntegerField(default=18)
    soft_cap = WeiField(default=0)
    hard_cap = WeiField(default=0)
    min_contribution = WeiField(default=0, help_text="Per wallet, total over the raise; 0 = no minimum.")
    max_contribution = WeiField(default=0, help_text="Per wallet, total over the raise; 0 = no maximum.")
    access = models.CharField(max_length=24, choices=Access.choices, default=Access.PUBLIC)
    whitelist_until = models.DateTimeField(
        null=True, blank=True, help_text="End of the whitelist-only phase (whitelist-then-public pools)."
    )
    opens_at = models.DateTimeField(null=True, blank=True)
    closes_at = models.DateTimeField(null=True, blank=True)
    confirmations = models.PositiveSmallIntegerField(default=2, help_text="Blocks on top before a deposit counts.")

    # The token and its split
    token_name = models.CharField(max_length=50)
    token_symbol = models.CharField(max_length=11)
    total_supply = WeiField(default=1_000_000_000 * 10**18, help_text="In token units (18 decimals).")

    # The token's identity, as the agent proposed it: shown on the pool page and in link previews. The image is
    # stored here, re-encoded (never hot-linked from the agent's host), and served by the website.
    description = models.TextField(blank=True, max_length=1_000, help_text="What the token is for, in plain words.")
    image = models.BinaryField(blank=True, null=True, editable=False, help_text="The token's logo, re-encoded PNG.")
    image_type = models.CharField(max_length=20, blank=True, editable=False)
    links = models.JSONField(
        default=list, blank=True, help_text='Up to 5 links: [{"label": "Website", "url": "https://…"}], https only.'
    )
    is_demo = models.BooleanField(
        default=False, help_text="A demonstration pool seeded on a local development chain; never on a real network."
    )
    liquidity_supply_bps = models.PositiveIntegerField(default=5_000, help_text="Share of supply paired in the pool.")
    depositor_supply_bps = models.PositiveIntegerField(default=4_000, help_text="Share of supply for depositors.")
    agent_supply_bps = models.PositiveIntegerField(default=1_000, help_text="Share of supply for the agent.")
    liquidity_raise_bps = models.PositiveIntegerField(default=8_000, help_text="Share of the raise paired in the pool.")
    depositor_cliff_seconds = models.PositiveBigIntegerField(default=0)
    depositor_vesting_seconds = models.PositiveBigIntegerField(default=0)
    agent_cliff_seconds = models.PositiveBigIntegerField(default=30 * 86_400)
    agent_vesting_seconds = models.PositiveBigIntegerField(default=365 * 86_400)
    protection_blocks = models.PositiveIntegerField(default=0, help_text="Anti-snipe window after launch (≤ 300).")
    max_buy_per_tx = WeiField(default=0, help_text="Token units one buy may take during the protection window.")

    # Where the money goes
    fee_bps = models.PositiveIntegerField(default=100)
    fee_recipient = models.CharField(max_length=42, blank=True)
    treasury_address = models.CharField(
        max_length=42, blank=True, help_text="Receives the raise beyond the liquidity share and the fee."
    )
    lp_policy = models.CharField(max_length=8, choices=LpPolicy.choices, default=LpPolicy.BURN)
    lp_lock_until = models.DateTimeField(null=True, blank=True)

    # The price
    price_mode = models.CharField(max_length=12, choices=PriceMode.choices, default=PriceMode.IMPLIED)
    target_price_usd_e8 = WeiField(default=0, help_text="USD per whole token, with 8 decimals (usd_target mode).")
    oracle_tolerance_bps = models.PositiveIntegerField(default=200)
    oracle_max_age_seconds = models.PositiveIntegerField(default=3_600)

    # Given by the signer when the pool is scheduled
    deposit_address = models.CharField(max_length=42, blank=True, db_index=True)
    derivation_path = models.CharField(max_length=64, blank=True)

    # Kept by the indexer
    raised = WeiField(default=0, help_text="Credited (confirmed, accepted) contributions.")
    refund_owed = WeiField(default=0, help_text="Confirmed deposits, or parts of them, that are owed back.")
    balance_difference = SignedWeiField(
        default=0, help_text="On-chain balance minus (credited + owed - refunded): non-zero needs a look."
    )
    balance_checked_at = models.DateTimeField(null=True, blank=True)

    # Kept by the refund job: why it cannot progress now (fees above the signer's cap, a top-up on its way, a refusal),
    # and since when; empty while it progresses. Shown in the admin and the API, and in /healthz once it lasts.
    waiting_code = models.CharField(max_length=40, blank=True)
    waiting_reason = models.CharField(max_length=400, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True)

    # Bumped by pools.services.pool_state.touch_pool in every service that changes what the pool's public reads show
    # (the API's pool detail, the pool page's live fragment): their caches are keyed by it.
    state_version = models.BigIntegerField(default=0, editable=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    closed_at = models.DateTimeField(null=True, blank=True, help_text="When the pool closed, for whatever reason.")
    closed_early_at = models.DateTimeField(
        null=True, blank=True, help_text="An admin's early close: deposits from then on are owed back."
    )

    objects = PoolManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hard_cap__gte=models.F("soft_cap")), name="pool_hard_cap_gte_soft"
            ),
            models.CheckConstraint(
                condition=models.Q(
                    liquidity_supply_bps__lte=BPS, depositor_supply_bps__lte=BPS, agent_supply_bps__lte=BPS
                ),
                name="pool_supply_bps_in_range",
            ),
        ]
        indexes = [models.Index(fields=["chain_id", "status"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.token_symbol})"

    @property
    def is_native(self) -> bool:
        return self.raise_asset == NATIVE_ASSET


class WhitelistEntry(models.Model):
    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="whitelist")
    address = models.CharField(max_length=42, help_text="Checksummed address.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["pool", "address"], name="whitelist_unique_address")]

    def __str__(self) -> str:
        return self.address


class Deposit(models.Model):
    """One transfer of the raise asset to a pool address, seen on chain. Unique per (chain, tx, position)."""

    class Kind(models.TextChoices):
        NATIVE_TX = "native_tx", "ETH, sent by a transaction"
        NATIVE_INTERNAL = "native_internal", "ETH, sent by a contract call (internal transfer)"
        ERC20 = "erc20", "ERC-20 Transfer"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmations"
        CONFIRMED = "confirmed", "Confirmed"

    class RefundReason(models.TextChoices):
        NONE = "", "—"
        NOT_OPEN = "not_open", "Sent before the pool opened"
        CLOSED = "closed", "Sent after the pool closed"
        NOT_WHITELISTED = "not_whitelisted", "Sender not whitelisted during the whitelist phase"
        BELOW_MINIMUM = "below_minimum", "Below the per-wallet minimum"
        ABOVE_MAXIMUM = "above_maximum", "Above the per-wallet maximum"
        HARD_CAP = "hard_cap", "Above the hard cap"
        POOL_FAILED = "pool_failed", "The pool did not launch"
        NO_SENDER = "no_sender", "Minted to the pool: no sender to pay back"

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="deposits")
    chain_id = models.PositiveBigIntegerField()
    tx_hash = models.CharField(max_length=66)
    # "tx" for a transaction's own value, "log:<index>" for a Transfer log, "trace:<a.b.c>" for an internal call.
    position = models.CharField(max_length=64)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    sender = models.CharField(max_length=42, db_index=True, help_text="The depositor: whoever sent the funds.")
    amount = WeiField()
    block_number = models.PositiveBigIntegerField(db_index=True)
    block_hash = models.CharField(max_length=66)
    tx_index = models.PositiveIntegerField()
    ordinal = models.PositiveIntegerField(help_text="Order inside the transaction (log index, trace order).")
    block_timestamp = models.DateTimeField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    credited_amount = WeiField(default=0)
    refund_amount = WeiField(default=0)
    refund_reason = models.CharField(max_length=20, choices=RefundReason.choices, blank=True, default="")
    in_signer_ledger = models.BooleanField(
        default=False, help_text="The signer has proven this deposit into its own ledger of the pool."
    )
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["block_number", "tx_index", "ordinal"]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "tx_hash", "position"], name="deposit_unique_per_chain_position"
            ),
            models.CheckConstraint(
                condition=models.Q(status="pending")
                | models.Q(credited_amount__lte=models.F("amount"), refund_amount__lte=models.F("amount")),
                name="deposit_parts_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["pool", "status", "block_number"])]

    def __str__(self) -> str:
        return f"{self.amount} from {self.sender} ({self.tx_hash[:10]}… {self.position})"


class IndexerCursor(models.Model):
    """How far the indexer got on one chain, and its adaptive block window."""

    chain_id = models.PositiveBigIntegerField(unique=True)
    last_block = models.BigIntegerField(default=-1, help_text="The last block fully indexed (-1: none yet).")
    window = models.PositiveIntegerField(default=50)
    window_ceiling = models.PositiveIntegerField(default=0, help_text="Window size cap after a too-large answer.")
    window_ceiling_at = models.DateTimeField(null=True, blank=True)
    first_block = models.BigIntegerField(default=0, help_text="Where indexing began: nothing below it was looked at.")
    head = models.BigIntegerField(default=-1, help_text="The chain's newest block when the indexer last looked.")
    final_block = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="The CHAIN_CONFIRMATION_TAG block when the indexer last looked (empty: no tag, every block counts).",
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"chain {self.chain_id} at block {self.last_block}"

    def complete_through(self, *, confirmations: int) -> int:
        """The newest block below which every deposit is indexed and confirmed: `confirmations` deep under what was
        indexed, and at or below the confirmation tag's block (deposits above it wait, pools.indexer.confirmations).
        Whatever decides "every deposit up to here is in" (the close, the signer's ledger) reads this."""
        through = self.last_block - confirmations
        return through if self.final_block is None else min(through, self.final_block)


class TraceGap(models.Model):
    """Blocks indexed without call traces (the RPC refused them): ETH that contracts sent to these ETH pools in
    them was not seen. Open (no last block) while the RPC still refuses; closed when it serves traces again."""

    chain_id = models.PositiveBigIntegerField()
    first_block = models.BigIntegerField(help_text="The first block indexed without traces.")
    last_block = models.BigIntegerField(
        null=True, blank=True, help_text="The last block indexed without traces; empty while the RPC still refuses."
    )
    reason = models.TextField(help_text="What the RPC answered when asked for traces.")
    pools = models.ManyToManyField(Pool, related_name="trace_gaps", help_text="The ETH pools watched meanwhile.")
    retraced_through = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="Once traces are served again: how far the gap's blocks have been traced since.",
    )
    started_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id"], condition=models.Q(last_block__isnull=True), name="trace_gap_one_open_per_chain"
            )
        ]
        ordering = ["-first_block"]

    def __str__(self) -> str:
        end = "now" if self.last_block is None else self.last_block
        return f"no traces on chain {self.chain_id}, blocks {self.first_block}..{end}"


class IndexedBlock(models.Model):
    """Recent block hashes, to notice a reorganisation when a parent hash no longer matches."""

    chain_id = models.PositiveBigIntegerField()
    number = models.PositiveBigIntegerField()
    hash = models.CharField(max_length=66)
    parent_hash = models.CharField(max_length=66)
    timestamp = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "number"], name="indexed_block_unique_number")]
        ordering = ["-number"]

    def __str__(self) -> str:
        return f"block {self.number} {self.hash[:10]}… on chain {self.chain_id}"


class Allocation(models.Model):
    """A depositor's token allocation at launch, and its Merkle proof for ClaimVault.claim."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="allocations")
    address = models.CharField(max_length=42, help_text="Checksummed depositor address.")
    contribution = WeiField(help_text="Credited contribution, in the raise asset's smallest unit.")
    token_amount = WeiField(help_text="Tokens allocated, in token units.")
    proof = models.JSONField(default=list, help_text="Merkle proof: hex-encoded 32-byte hashes.")

    class Meta:
        ordering = ["pool", "address"]
        constraints = [models.UniqueConstraint(fields=["pool", "address"], name="allocation_unique_address")]

    def __str__(self) -> str:
        return f"{self.token_amount} to {self.address}"


class NonceSequence(models.Model):
    """The next nonce of one signing address on one chain: one sequence per signer address, locked to allocate."""

    chain_id = models.PositiveBigIntegerField()
    address = models.CharField(max_length=42)
    next_nonce = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["chain_id", "address"], name="nonce_sequence_unique_address")]

    def __str__(self) -> str:
        return f"{self.address} next nonce {self.next_nonce}"


class ChainTransaction(models.Model):
    """One transaction the app has asked the signer for, persisted before it is broadcast.

    unstarted → in_progress (signed, raw bytes stored) → unconfirmed (broadcast) → confirmed | failed; a stuck one
    is replaced by a new row with the same nonce and fees raised ≥ 10% (status of the old: replaced).
    """

    class Status(models.TextChoices):
        UNSTARTED = "unstarted", "Unstarted"
        IN_PROGRESS = "in_progress", "Signed, not yet broadcast"
        UNCONFIRMED = "unconfirmed", "Broadcast, waiting for its receipt"
        CONFIRMED = "confirmed", "Confirmed (succeeded)"
        FAILED = "failed", "Mined but reverted, or refused"
        REPLACED = "replaced", "Replaced by a transaction with higher fees"

    class Purpose(models.TextChoices):
        LAUNCH = "launch", "Launch"
        APPROVE = "approve", "ERC-20 approve"
        REFUND = "refund", "Refund batch"
        GAS_TOPUP = "gas_topup", "Gas top-up"

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="transactions", null=True, blank=True)
    purpose = models.CharField(max_length=12, choices=Purpose.choices)
    signer_key = models.CharField(max_length=32, help_text="The signer key: the pool id, or 'gas'.")
    chain_id = models.PositiveBigIntegerField()
    from_address = models.CharField(max_length=42)
    nonce = models.PositiveBigIntegerField()
    to_address = models.CharField(max_length=42)
    data = models.TextField(default="0x")
    value = WeiField(default=0)
    gas = models.PositiveBigIntegerField()
    max_fee_per_gas = WeiField()
    max_priority_fee_per_gas = WeiField()
    evidence = models.JSONField(null=True, blank=True, help_text="Refund evidence sent to the signer.")
    raw_tx = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True, db_index=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.UNSTARTED, db_index=True)
    replaces = models.OneToOneField("self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaced_by")
    signer_log_index = models.BigIntegerField(null=True, blank=True, help_text="The signer's log entry.")
    broadcast_count = models.PositiveIntegerField(default=0)
    first_broadcast_at = models.DateTimeField(null=True, blank=True)
    last_broadcast_at = models.DateTimeField(null=True, blank=True)
    block_number = models.PositiveBigIntegerField(null=True, blank=True)
    gas_used = models.PositiveBigIntegerField(null=True, blank=True)
    effective_gas_price = WeiField(null=True, blank=True)
    l1_fee = WeiField(default=0, help_text="The OP-stack L1 data fee its receipt reports (0 elsewhere).")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["chain_id", "from_address", "nonce", "id"]
        indexes = [models.Index(fields=["chain_id", "from_address", "nonce"])]

    def __str__(self) -> str:
        return f"{self.purpose} nonce {self.nonce} from {self.from_address} ({self.status})"

    @property
    def fee_paid(self) -> int:
        """Native currency the sender paid for gas, and on an OP-stack chain for its L1 data (0 until mined)."""
        return (self.gas_used or 0) * (self.effective_gas_price or 0) + self.l1_fee


class Launch(models.Model):
    """A pool's one launch, advanced step by step by the launch job; each step's state is here, not in memory."""

    # Not stored: set by a launch step that waits on something outside the launch (fees, the signer's configuration),
    # so the job asks again later rather than every few seconds (pools.tasks.advance_launch).
    waiting = False

    class Step(models.TextChoices):
        REQUESTED = "requested", "Requested"
        ALLOCATED = "allocated", "Allocations and Merkle tree built"
        APPROVING = "approving", "Approving the raise asset to the Launcher"
        SENDING = "sending", "Launch transaction signed and being sent"
        LAUNCHED = "launched", "Launched"
        FAILED = "failed", "Failed (see error)"

    pool = models.OneToOneField(Pool, on_delete=models.PROTECT, related_name="launch")
    step = models.CharField(max_length=12, choices=Step.choices, default=Step.REQUESTED)
    requested_by = models.CharField(max_length=100, blank=True)
    raise_amount = WeiField(default=0)
    merkle_root = models.CharField(max_length=66, blank=True)
    params = models.JSONField(null=True, blank=True, help_text="The LaunchParams sent, amounts as strings.")
    oracle_answer = models.DecimalField(max_digits=78, decimal_places=0, null=True, blank=True)
    transaction = models.ForeignKey(ChainTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    token_address = models.CharField(max_length=42, blank=True)
    pair_address = models.CharField(max_length=42, blank=True)
    claim_vault_address = models.CharField(max_length=42, blank=True)
    vesting_wallet_address = models.CharField(max_length=42, blank=True)
    lp_destination = models.CharField(max_length=42, blank=True)
    event = models.JSONField(null=True, blank=True, help_text="The decoded Launched event.")
    error = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    requested_at = models.DateTimeField(auto_now_add=True)
    launched_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"launch of {self.pool} ({self.step})"


class Refund(models.Model):
    """Funds owed back to one depositor, paid in a batch through the Refunder."""

    class Status(models.TextChoices):
        OWED = "owed", "Owed"
        SENDING = "sending", "In a batch being sent"
        PAID = "paid", "Paid"
        SET_ASIDE = "set_aside", "Set aside for manual handling"

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="refunds")
    recipient = models.CharField(max_length=42)
    amount = WeiField()
    deposits = models.ManyToManyField(Deposit, related_name="refunds", help_text="The evidence: what it pays back.")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OWED, db_index=True)
    transaction = models.ForeignKey(
        ChainTransaction, on_delete=models.PROTECT, null=True, blank=True, related_name="refunds"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    # An admin's decision that this refund is handled outside the batches (a recipient that cannot be paid), so it
    # never holds back the others; recorded in the signer's log too.
    set_aside_at = models.DateTimeField(null=True, blank=True)
    set_aside_by = models.CharField(max_length=150, blank=True)
    set_aside_note = models.CharField(max_length=500, blank=True)
    set_aside_log_index = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="The signer's log entry that records the decision."
    )

    class Meta:
        # A recipient may get more than one refund: over-cap parts at launch, a late deposit afterwards.
        ordering = ["pool", "recipient", "id"]

    def __str__(self) -> str:
        return f"{self.amount} owed to {self.recipient} ({self.status})"


class PoolEvent(models.Model):
    """Something that happened to a pool, recorded in the same database transaction as the change (an outbox).

    pools only records; other rooms act on events (agent_api sends them to webhooks) through the
    `pools.signals.pool_events_recorded` signal or by reading this table, so pools knows nothing of them.
    """

    class Kind(models.TextChoices):
        DEPOSIT_CREDITED = "deposit.credited", "A deposit was credited"
        POOL_CLOSED = "pool.closed", "A pool closed"
        POOL_LAUNCHED = "pool.launched", "A pool launched its token"
        POOL_REFUNDED = "pool.refunded", "A pool's refunds were paid"
        POOL_REFUNDS_WAITING = "pool.refunds_waiting", "A pool's refunds wait (for fees, gas or a decision)"
        POOL_SCHEDULED = "pool.scheduled", "A pool was scheduled (its deposit address exists)"
        POOL_OPENED = "pool.opened", "A pool's raise opened"
        POOL_LAUNCHING = "pool.launching", "A pool's launch was requested"
        POOL_LAUNCH_FAILED = "pool.launch_failed", "A pool's launch failed: its deposits are refunded"
        POOL_REFUNDING = "pool.refunding", "A pool's deposits are being refunded in full"
        POOL_CANCELLED = "pool.cancelled", "A pool was cancelled"
        REFUND_BATCH_PAID = "refund_batch.paid", "A refund batch's transaction was confirmed"

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=32, choices=Kind.choices)
    payload = models.JSONField(encoder=DjangoJSONEncoder, help_text="The event's facts; amounts as decimal strings.")
    created_at = models.DateTimeField(auto_now_add=True)
    # Ids are taken at insert, not at commit: a reader resuming "after id N" must not pass an event whose transaction
    # is still open (it would commit later with a smaller id and be skipped). The recording transaction's id lets
    # pools.selectors.events hold back whatever a transaction still open may yet commit.
    txid = models.BigIntegerField(
        db_default=models.Func(function="txid_current", output_field=models.BigIntegerField()),
        editable=False,
        help_text="The PostgreSQL transaction that recorded it (txid_current()).",
    )

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["pool", "id"], name="pool_event_pool_id_idx")]

    def __str__(self) -> str:
        return f"{self.kind} of {self.pool_id} (#{self.pk})"
