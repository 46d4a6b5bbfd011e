from __future__ import annotations

from rest_framework.pagination import PageNumberPagination


class Pagination(PageNumberPagination):
    """Every list: ``{"count", "next", "previous", "results"}``."""

    page_size_query_param = "page_size"
    max_page_size = 500
