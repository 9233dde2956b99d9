"""Business-rule errors raised by services; the API maps each to HTTP 4xx with its stable code (agent_api/errors.py)."""


class ApplicationError(Exception):
    """A business-rule error a service raises: a stable `code`, a human `message`, optional `details`."""

    status_code = 400
    code = "application_error"

    def __init__(self, message: str, *, details: dict | None = None):
        super().__init__(message)
        self.message = message
        self.details = details or {}
