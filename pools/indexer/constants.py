"""The indexer's numbers, in one place."""

from pools.models import Pool

# keccak("Transfer(address,address,uint256)")
TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"

# Pools whose address is watched: every one that has an address. Deposits after the close, after the launch or after
# a cancellation still have to be seen: they are owed back.
WATCHED_STATUSES = (
    Pool.Status.SCHEDULED,
    Pool.Status.OPEN,
    Pool.Status.CLOSED,
    Pool.Status.LAUNCHING,
    Pool.Status.LAUNCHED,
    Pool.Status.REFUNDING,
    Pool.Status.REFUNDED,
    Pool.Status.CANCELLED,
)

# Block hashes kept to find a fork point; a reorganisation deeper than this stops the indexer (ReorgTooDeep),
# since nothing below it can be checked. Ethereum mainnet finalises in 64 blocks; L2s reorg far less.
KEEP_BLOCKS = 256

# The adaptive block window: grows while windows are quick, halves on errors and slow or too-large answers.
MIN_WINDOW = 1
MAX_WINDOW = 1_000
FAST_WINDOW_SECONDS = 2.0
SLOW_WINDOW_SECONDS = 10.0

# One index_chain call stops starting new windows after this long, so a beat-scheduled task stays short.
TIME_BUDGET_SECONDS = 20.0

# Deposit addresses per eth_getLogs topic filter (providers cap the size of a filter).
ADDRESSES_PER_LOG_FILTER = 500

# Balances are rechecked at least this often even when nothing changed.
RECONCILE_EVERY_SECONDS = 30

# After a node refuses a window as too large, windows stay below that size for this long.
WINDOW_CEILING_SECONDS = 600

# Block traces per HTTP request: traces are the heaviest reads, and small batches let the node work on several
# at once (a node answers the requests of one batch one after another).
TRACES_PER_REQUEST = 5
