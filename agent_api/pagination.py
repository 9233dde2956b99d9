from rest_framework.pagination import LimitOffsetPagination


class LimitOffset(LimitOffsetPagination):
    """`?limit=&offset=` on every list; a limit is capped so no request asks the database for everything."""

    default_limit = 50
    max_limit = 200
