"""Django system checks (run by `manage.py check`, `migrate` and the test runner): settings that would otherwise fail
only at the first request."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register

from pools.ratelimit import Rate


def _rates() -> dict[str, str]:
    rates = {
        f"REST_FRAMEWORK['DEFAULT_THROTTLE_RATES'][{scope!r}]": rate
        for scope, rate in settings.REST_FRAMEWORK.get("DEFAULT_THROTTLE_RATES", {}).items()
    }
    rates.update({name: getattr(settings, name) for name in ("SIWE_RATE", "HEALTHZ_RATE")})
    return rates


@register()
def rate_limits_parse(app_configs, **kwargs) -> list[Error]:
    """Every rate limit reads as a rate: a typo in API_RATE_* or SIWE_RATE would make each request it meets a 500."""
    errors = []
    for name, rate in _rates().items():
        try:
            Rate.parse(str(rate))
        except ValueError as exc:
            errors.append(Error(f"{name}: {exc}", hint="Write it as COUNT/PERIOD, e.g. 600/minute.", id="pools.E001"))
    return errors
