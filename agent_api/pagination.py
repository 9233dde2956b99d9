"""`?limit=&offset=` on every list, strictly: a value that is not a whole number in range is a 400, not a default."""

from __future__ import annotations

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination

OFFSET_MAX = 10**15  # far beyond any table here, and within a bigint
MAX_DIGITS = len(str(OFFSET_MAX))


def whole_number_problem(value: str, *, least: int, most: int | None = None) -> str:
    """What is wrong with a query parameter meant as a whole number in [least, most] ("" when nothing is)."""
    # Digits only: int() would also take " 5", "+5", "5_0" and "٥", which a client did not mean as a number.
    if not (value.isascii() and value.isdigit()):
        return f"Not a whole number: {value!r}."
    if len(value) > MAX_DIGITS:  # before int(): Python refuses to convert thousands of digits
        return f"Between {least} and {most}." if most is not None else f"At least {least}, at most {OFFSET_MAX}."
    number = int(value)
    if number < least or (most is not None and number > most):
        return f"Between {least} and {most}." if most is not None else f"At least {least}."
    return ""


class LimitOffset(LimitOffsetPagination):
    """A page of `limit` rows (1 to 200; 50 when left out) from `offset` (0 or more): a limit is capped so that no
    request asks the database for everything, and a malformed or out-of-range value is refused rather than
    replaced by the default, so that a client's bug shows at once."""

    default_limit = 50
    max_limit = 200

    def query_param_problems(self, query_params) -> dict[str, list[str]]:
        """Messages per parameter for a limit or offset that is not a whole number in range."""
        bounds = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, OFFSET_MAX)}
        problems = {}
        for name, (least, most) in bounds.items():
            if name in query_params and (problem := whole_number_problem(query_params[name], least=least, most=most)):
                problems[name] = [problem]
        return problems

    def get_limit(self, request):
        if problems := self.query_param_problems(request.query_params):
            raise ValidationError(problems)
        return super().get_limit(request)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.limit_query_param:
                parameter["schema"] = {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_limit,
                    "default": self.default_limit,
                }
                parameter["description"] = f"Rows per page, 1 to {self.max_limit} ({self.default_limit} when left out)."
            elif parameter["name"] == self.offset_query_param:
                parameter["schema"] = {"type": "integer", "minimum": 0, "maximum": OFFSET_MAX, "default": 0}
                parameter["description"] = "Rows to skip before the page (0 when left out)."
        return parameters
