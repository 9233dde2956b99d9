"""/api/v1/'s views, one per operation: public reads, an agent's own pools, triggered jobs, webhooks."""
