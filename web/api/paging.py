"""Pagination for flask-smorest's ``@paginate``: the total for X-Pagination, and the task lists' cursor.

Most lists are small (a school's questionnaires, the deployed templates) and page in Python (``page_of``).
The task lists page in SQL (``engine/process/task_pages.py``): ``paged`` hands the service's page to the
header — ``next_cursor`` for ``?after=`` and whether ``total`` stopped counting at its cap."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import marshmallow as ma
from flask_smorest.pagination import PaginationMetadataSchema

from engine.errors import FormInvalid
from engine.process.task_pages import Page


def page_of(found: Sequence[Any], pagination_parameters: Any) -> list[Any]:
    pagination_parameters.item_count = len(found)
    start = pagination_parameters.first_item
    return list(found[start:start + pagination_parameters.page_size])


OFFSET_MAX = 1_000_000


def sql_paging(query: dict[str, Any], pagination_parameters: Any) -> dict[str, Any]:
    """The service's paging keywords: ``page`` → an offset, or the cursor ``after`` (which starts its own
    page, so a page number beside it is refused rather than ignored)."""
    if query.get("after") and pagination_parameters.page != 1:
        raise FormInvalid({"page": ["с курсором after номер страницы не указывают"]})
    if pagination_parameters.first_item > OFFSET_MAX:  # a page number can ask past any BIGINT OFFSET
        raise FormInvalid({"page": [f"не дальше {OFFSET_MAX:,} строк от начала; дальше — по курсору after"]})
    pagination_parameters.by_cursor = bool(query.get("after"))
    return {"limit": pagination_parameters.page_size, "offset": pagination_parameters.first_item, "count": True}


def paged(page: Page, pagination_parameters: Any) -> list[Any]:
    pagination_parameters.item_count = page.total
    pagination_parameters.next_cursor = page.next_cursor
    pagination_parameters.total_capped = page.total_capped
    return page.tasks


class PagingMetadataSchema(PaginationMetadataSchema):  # type: ignore[misc]
    next_cursor = ma.fields.Str(metadata={"description": "The next page of a task list: pass it as `after` (absent "
                                                         "on the last page). Cursor pages stay exact while tasks "
                                                         "are completed between requests; numbered pages may not."})
    total_capped = ma.fields.Bool(metadata={"description": "true when a task list has more rows than `total` "
                                                           "says (it counts up to 1,000; `next_cursor` and "
                                                           "`next_page` go on)"})


PAGING_HEADER = {"description": "Pagination metadata", "schema": PagingMetadataSchema}


def with_cursor(header: str, pagination_parameters: Any) -> str:
    """X-Pagination with the task lists' additions, when the view set them: ``next_cursor`` while more rows
    follow, ``total_capped``; numbered pages go on while the cursor does (a capped total does not end them),
    and a page reached by cursor has no number."""
    cursor = getattr(pagination_parameters, "next_cursor", None)
    capped = getattr(pagination_parameters, "total_capped", False)
    by_cursor = getattr(pagination_parameters, "by_cursor", False)
    if cursor is None and not capped and not by_cursor:
        return header
    data = json.loads(header)
    if by_cursor:
        for numbered in ("page", "previous_page", "next_page"):
            data.pop(numbered, None)
    if cursor is not None:
        data["next_cursor"] = cursor
        if not by_cursor:
            data["next_page"] = pagination_parameters.page + 1
    if capped:
        data["total_capped"] = True
    return json.dumps(data)
