"""Placeholder: being written (issue 17)."""

from django.http import Http404


def deposit_status(request, pool_id, **kwargs):
    raise Http404("not built yet")
