"""The web tier's edge to the chain: artifacts, a read-only web3 client, typed errors and contract wrappers."""
