"""Strict query parameters for the API's reads: anything a client sends that the endpoint would not use is a 400.

A lenient API answers `?status=` (empty), `?limit=abc`, `?stauts=open` or a repeated `?limit=` with a 200 and the
default page, so the client's bug stays hidden and it acts on the wrong rows. With StrictQueryParams, a view accepts
exactly the parameters its schema declares: its FilterSerializer's fields (declared in @extend_schema(parameters=
[FilterSerializer])), the paginator's limit and offset on a list, and any `extra_query_params` it names. Every problem
is reported at once, per parameter, in the API's one error shape (code `invalid`).

Usage, in a view (list or not):

    class MyListApi(StrictQueryParams, ListAPIView):
        class FilterSerializer(serializers.Serializer):
            status = serializers.ChoiceField(choices=..., required=False)

        def get_queryset(self):
            return my_selector(**self.query_filters)   # the FilterSerializer's validated data
"""

from __future__ import annotations

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.mixins import ListModelMixin

from agent_api.pagination import LimitOffset


def query_params_problems(
    query_params, *, accepted: set[str], filters: type[serializers.Serializer] | None, paginator=None
) -> tuple[dict, dict[str, list[str]]]:
    """The filters' validated values and the messages per parameter: unknown, repeated, empty or malformed."""
    problems: dict[str, list[str]] = {}
    for name in sorted(query_params):
        values = query_params.getlist(name)
        if name not in accepted:
            shown = ", ".join(sorted(accepted)) or "none"
            problems[name] = [f"Not a query parameter of this endpoint (accepted: {shown})."]
        elif len(values) > 1:
            problems[name] = [f"Given {len(values)} times: give it once."]
        elif values[0] == "":
            problems[name] = ["Empty: give a value, or leave the parameter out."]
    if isinstance(paginator, LimitOffset):
        for name, messages in paginator.query_param_problems(query_params).items():
            problems.setdefault(name, messages)
    validated: dict = {}
    if filters is not None:
        serializer = filters(data={name: query_params[name] for name in query_params if name not in problems})
        if serializer.is_valid():
            validated = dict(serializer.validated_data)
        else:
            for name, messages in serializer.errors.items():
                problems.setdefault(name, list(messages))
    return validated, problems


class StrictQueryParams:
    """A view mixin: refuses (400 `invalid`) any query parameter the view does not declare, or a malformed one.

    Checked after authentication, permissions and throttling (a caller without a key still gets its 401 first).
    The validated filters are `self.query_filters`.
    """

    extra_query_params: tuple[str, ...] = ()
    query_filters: dict

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            return  # dispatch answers 405 with Allow: a method the view has not is not a parameter problem
        filters = getattr(self, "FilterSerializer", None)
        accepted = set(self.extra_query_params)
        if filters is not None:
            accepted |= set(filters().fields)
        paginator = self.paginator if isinstance(self, ListModelMixin) and request.method in ("GET", "HEAD") else None
        if isinstance(paginator, LimitOffset):
            accepted |= {paginator.limit_query_param, paginator.offset_query_param}
        self.query_filters, problems = query_params_problems(
            request.query_params, accepted=accepted, filters=filters, paginator=paginator
        )
        if problems:
            raise ValidationError(problems)
