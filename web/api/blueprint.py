"""The API's blueprints read JSON bodies with the house reader (``web.inputs.parse_json``) instead of
webargs' bare ``json.loads``, which let RecursionError and ValueError (a 5 000-digit integer) through as 500s
and answered broken JSON with a message the problem handler could not read."""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request
from werkzeug.datastructures import CombinedMultiDict

from web.api.operations import operation_id
from web.api.paging import with_cursor
from web.inputs import parse_json


class BodyParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        data = req.get_data(cache=True)
        if not data.strip():
            return core.missing  # as webargs: no body is a missing body (422 for required fields), not a 400
        return parse_json(data)

    def load_files(self, req: flask.Request, schema: Any) -> Any:
        """A multipart body as one: its files and its plain fields (an upload's ``file`` and ``field``), so one
        schema describes the whole multipart/form-data request in the OpenAPI document."""
        return self._makeproxy(CombinedMultiDict([req.files, req.form]), schema)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    ARGUMENTS_PARSER = BodyParser()

    def register_views_in_doc(self, api: Any, app: flask.Flask, spec: Any, *, name: str, parameters: Any) -> None:
        """Every operation with its stable operationId (``web.api.operations``), unless a view's own
        ``@blp.doc(operationId=…)`` says otherwise."""
        for endpoint, info in self._docs.items():
            for method, operation in info.items():
                if method == "parameters":
                    continue
                operation.setdefault("manual_doc", {}).setdefault("operationId", operation_id(self.name, endpoint,
                                                                                              method))
        super().register_views_in_doc(api, app, spec, name=name, parameters=parameters)

    def _set_pagination_metadata(self, page_params: Any, result: Any, headers: Any) -> Any:
        """flask-smorest's X-Pagination, plus a task list's ``next_cursor`` (``web.api.paging.paged``)."""
        result, headers = super()._set_pagination_metadata(page_params, result, headers)
        headers[self.PAGINATION_HEADER_NAME] = with_cursor(headers[self.PAGINATION_HEADER_NAME], page_params)
        return result, headers
