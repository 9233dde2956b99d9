"""The enclave signer: the launchpad's trusted computing base. A separate program; imports nothing from the web app."""
