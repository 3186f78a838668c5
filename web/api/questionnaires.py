"""Questionnaires: respondents' personal links (create per group, list with their state), response counts per
group, the director's own questionnaire, and — without a bearer token, the link's token being the key — the
form behind a link and one answer through it. Every rule is the engine's, as on the web pages: single use, the
questionnaire window, anonymity (only the token's hash is kept)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView

from engine.process import questionnaires
from web.api.auth import api_login
from web.api.blueprint import Blueprint
from web.api.paging import page_of
from web.api.schemas import (
    AnswersIn,
    LinkAnswerIn,
    LinkFormOut,
    LinkQuery,
    LinksIn,
    LinkStateOut,
    NewLinksOut,
    Problem,
    ResponseCountOut,
    SubmittedOut,
    TokenOnlyIn,
)
from web.session import client_address, db

blp = Blueprint("api_questionnaires", __name__, url_prefix="/api/v1",
                description="Questionnaires: respondents' links, answers, response counts")
blueprints = [blp]
PUBLIC: dict[str, Any] = {"security": []}  # the link's token, in the body, is the key


@blp.route("/schools/<code>/questionnaires/links")
class Links(MethodView):
    @blp.arguments(LinkQuery, location="query")
    @blp.response(200, LinkStateOut(many=True))
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    @blp.paginate()
    def get(self, query: dict[str, Any], code: str, pagination_parameters: Any) -> list[Any]:
        """The personal links handed out for the school's roadmap with their state (`used_at`: answered then).
        Tokens are not shown again: only their hashes are kept."""
        found = questionnaires.list_links(db(), code, group=query.get("group"), actor=api_login())
        return page_of(found, pagination_parameters)

    @blp.arguments(LinksIn)
    @blp.response(201, NewLinksOut)
    @blp.alt_response(400, schema=Problem)
    @blp.alt_response(403, schema=Problem)
    @blp.alt_response(404, schema=Problem)
    def post(self, body: dict[str, Any], code: str) -> dict[str, Any]:
        """New personal links for an anonymous group (teachers, students, parents) while the questionnaire window
        is open: the tokens and their web addresses, shown this once (the school or its curator)."""
        tokens = questionnaires.create_links(db(), code, body["group"], body["count"], actor=api_login())
        return {"group": body["group"], "tokens": tokens,
                "urls": [url_for("questionnaires.respond", token=t, _external=True) for t in tokens]}


@blp.route("/schools/<code>/questionnaires")
@blp.response(200, ResponseCountOut(many=True))
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def rates(code: str) -> Any:
    """Responses per respondent group of the school's roadmap, with the links handed out (null for the
    director's named questionnaire)."""
    return questionnaires.response_rates(db(), code, actor=api_login())


@blp.route("/schools/<code>/questionnaires/director", methods=["POST"])
@blp.arguments(AnswersIn)
@blp.response(201, SubmittedOut)
@blp.alt_response(400, schema=Problem)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(409, schema=Problem)
@blp.alt_response(422, schema=Problem)
def director(body: dict[str, Any], code: str) -> dict[str, Any]:
    """The director's own questionnaire, answered as the school's user (once, while the window is open)."""
    submitted = questionnaires.submit_director(db(), code, body["answers"], actor=api_login())
    return {"group": submitted.group}


@blp.route("/schools/<code>/questionnaires/director", methods=["GET"])
@blp.response(200, LinkFormOut)
@blp.alt_response(400, schema=Problem)
@blp.alt_response(403, schema=Problem)
@blp.alt_response(404, schema=Problem)
def director_form(code: str) -> Any:
    """The director's questionnaire as the school's user fills it: the school, the group's title, its form (form-js)
    — what a client reads before answering it with the POST to the same path (while the window is open)."""
    return questionnaires.director_form(db(), code, actor=api_login())


@blp.route("/questionnaires/form", methods=["POST"])
@blp.arguments(TokenOnlyIn)
@blp.response(200, LinkFormOut)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(429, schema=Problem)
@blp.doc(**PUBLIC)
def link_form(body: dict[str, Any]) -> Any:
    """What a respondent's link opens: the school, the group, its form (form-js), whether it was answered and
    whether the window is open. No bearer token; unknown tokens count against the caller's address (429)."""
    return questionnaires.link_page(db(), body["token"], client_address())


@blp.route("/questionnaires/answers", methods=["POST"])
@blp.arguments(LinkAnswerIn)
@blp.response(201, SubmittedOut)
@blp.alt_response(400, schema=Problem)
@blp.alt_response(404, schema=Problem)
@blp.alt_response(409, schema=Problem)
@blp.alt_response(422, schema=Problem)
@blp.alt_response(429, schema=Problem)
@blp.doc(**PUBLIC)
def respond(body: dict[str, Any]) -> dict[str, Any]:
    """A respondent's answers through their link: accepted once (409 after), only while the questionnaire
    window is open (400), validated against the group's form (422 by field). No bearer token."""
    questionnaires.link_page(db(), body["token"], client_address())  # unknown tokens: the same throttle as /q/
    submitted = questionnaires.submit_by_link(db(), body["token"], body["answers"])
    return {"group": submitted.group}
