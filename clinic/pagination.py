"""Page-number pagination with the error answers the OpenAPI schema documents: a page
that is not a whole number of at least 1 is a 400 (`invalid_page`, the
`page` field named in `errors`), a page past the last one a 404 (`not_found`)."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator as DjangoPaginator
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from clinic.api_common import FieldRefusal

PAGE_MESSAGE = "Send a page number of 1 or more."


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_number(self, request: Request, paginator: DjangoPaginator) -> Any:
        raw = request.query_params.get(self.page_query_param) or "1"
        if raw in self.last_page_strings:
            return paginator.num_pages
        if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
            raise FieldRefusal({self.page_query_param: [PAGE_MESSAGE]}, "invalid_page")
        return int(raw)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.page_query_param: {"minimum": 1},
            self.page_size_query_param: {"minimum": 1, "maximum": self.max_page_size},
        }
        for parameter in parameters:
            parameter["schema"].update(bounds.get(parameter["name"], {}))
        return parameters
