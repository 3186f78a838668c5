"""Pagination of service results for flask-smorest's ``@paginate`` (sets the total for X-Pagination)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def page_of(found: Sequence[Any], pagination_parameters: Any) -> list[Any]:
    pagination_parameters.item_count = len(found)
    start = pagination_parameters.first_item
    return list(found[start:start + pagination_parameters.page_size])
