"""The chain deposit indexer: finds deposits to pool addresses, survives reorgs, confirms, and reconciles balances.

Entry point: pools.services.indexing.index_chain. See docs/indexer.md.
"""
