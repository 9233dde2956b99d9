"""The edge to the chain: RPC clients, typed errors, contract artifacts, encoding and decoding, Merkle trees, the
Launcher's arithmetic, sending signed transactions, and read-only reads of pairs, feeds and claims.

It knows nothing of pools, the website or the API (no imports of `pools`, `web` or `agent_api`; pyproject.toml's
import-linter contracts keep it so): whatever needs a pool's rows calls down into this package, never the reverse.
"""
