"""Bearer-token authentication of API requests."""

from __future__ import annotations

from flask import g, request

from engine.org.api_tokens import InvalidToken, authenticate
from web.errors import PreconditionFailed, Unauthenticated
from web.session import db

__all__ = ["PreconditionFailed", "Unauthenticated", "api_login"]


def api_login() -> str:
    """The login the request's token acts as (cached for the request)."""
    if "api_login" not in g:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("нужен заголовок Authorization: Bearer <токен>")
        try:
            g.api_login = authenticate(db(), token.strip())
        except InvalidToken as err:
            raise Unauthenticated(err.message) from err
    return str(g.api_login)
