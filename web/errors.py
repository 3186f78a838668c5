"""Engine errors as HTTP status codes: one table for the web pages and the API.

The pages answer with the Russian error page (or a small JSON body when asked for JSON), the API with
an RFC 9457 problem document; what they share is the status of each error class, and it lives here so
the two cannot drift apart again (they once did: the API answered 400 where the pages said 404 or 422).
tests/integration/test_web_errors.py walks every ``EngineError`` subclass and fails for one without an
entry, so a new error class is given its status the day it is added.
"""

from __future__ import annotations

from engine.errors import (
    ConcurrentUpdate,
    Conflict,
    DraftNotFound,
    EngineError,
    ExpressionFailed,
    ExpressionRejected,
    FileRejected,
    FormDefinitionInvalid,
    FormInvalid,
    IncidentNotFound,
    InstanceNotFound,
    LetterNotBuildable,
    MigrationImpossible,
    MigrationRunNotFound,
    NotAllowed,
    NotFound,
    OrgUnitNotFound,
    SendBackRefused,
    StepFailed,
    TaskAlreadyCompleted,
    TaskClaimed,
    TaskNotFound,
    TemplateInvalid,
    TemplateNotFound,
    TemplateRetired,
    TooManyAttempts,
    WorkflowFailed,
)
from engine.org.accounts import SignInRefused
from engine.org.api_tokens import InvalidToken
from engine.process.report_docx import TemplateRejected
from engine.process.report_pdf import ReportUnavailable
from web.inputs import InputRejected


class Unauthenticated(EngineError):
    """An API request without a valid bearer token."""


class PreconditionFailed(EngineError):
    """An If-Match that no longer matches: the client acted on a stale view."""


#: Every error class, its own entry (not only its base's): reading the table tells each one's answer.
STATUS: dict[type[EngineError], int] = {
    EngineError: 400,
    InputRejected: 400,
    ExpressionRejected: 400,
    ExpressionFailed: 400,
    WorkflowFailed: 400,
    FormDefinitionInvalid: 400,
    LetterNotBuildable: 400,
    Unauthenticated: 401,
    NotAllowed: 403,
    SignInRefused: 403,
    InvalidToken: 403,
    NotFound: 404,
    TemplateNotFound: 404,
    TaskNotFound: 404,
    InstanceNotFound: 404,
    IncidentNotFound: 404,
    OrgUnitNotFound: 404,
    MigrationRunNotFound: 404,
    DraftNotFound: 404,
    Conflict: 409,
    TaskAlreadyCompleted: 409,
    StepFailed: 409,
    SendBackRefused: 409,
    TaskClaimed: 409,
    ConcurrentUpdate: 409,
    MigrationImpossible: 409,
    TemplateRetired: 409,
    PreconditionFailed: 412,
    FormInvalid: 422,
    TemplateInvalid: 422,
    FileRejected: 422,
    TemplateRejected: 422,
    TooManyAttempts: 429,
    ReportUnavailable: 503,
}


def status_of(err: EngineError) -> int:
    """The status of the error's class, or of its nearest ancestor in the table."""
    return next(STATUS[cls] for cls in type(err).__mro__ if cls in STATUS)
