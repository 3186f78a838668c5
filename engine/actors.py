"""Who acts: every engine service that acts for someone takes ``actor: Who`` as a required keyword.

A ``str`` is a user's login: the service loads that user and checks they may do it. ``OPERATOR`` is the
server's own console (``roadmap …``) or a background job: it is trusted, as whoever runs the server is, and
its audit records carry no user (``actor_id`` NULL). The operator is always said out loud — there is no
default, so a forgotten ``actor=`` is a TypeError, never a silent "skip the checks". A service that is only
ever a user's own (their tasks, their password) refuses the operator with ``NotAllowed``.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import NotAllowed


@dataclass(frozen=True)
class Operator:
    """The server acting for itself; ``reason`` says so in error messages and logs."""

    reason: str


OPERATOR = Operator(reason="консоль или задание")

#: A user's login, or the operator.
Who = str | Operator


def login_of(actor: Who) -> str:
    """The user's login; the operator is refused where only a user can act (their tasks, their account)."""
    if isinstance(actor, Operator):
        raise NotAllowed("это действие выполняет пользователь, а не оператор")
    return actor


def is_operator(actor: Who) -> bool:
    return isinstance(actor, Operator)
