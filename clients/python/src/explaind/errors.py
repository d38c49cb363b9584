"""The one exception the client raises for answers the server refused."""

from __future__ import annotations

from typing import Any, Optional


class ExplaindError(Exception):
    """An error answer from explaind: its HTTP status, stable code and message.

    The server sends every error as ``{"error": {"code": ..., "message": ...}}``;
    ``code`` is machine-readable (``model_not_found``, ``invalid_input``, ...) and
    ``message`` names the field, limit or flag at fault. Answers that are not in
    that shape (a proxy's page, say) get the code ``http_<status>``.
    """

    def __init__(self, status: int, code: str, message: str, body: Optional[Any] = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        #: HTTP status of the answer (0 for a failed job, which has no status of its own).
        self.status = status
        #: The server's error code, e.g. ``model_not_found``.
        self.code = code
        #: What went wrong, as the server worded it.
        self.message = message
        #: The decoded answer body, where there was one.
        self.body = body


class ConversionError(ValueError):
    """A model the client could not turn into a registration document: a part of it
    (``part``, e.g. a pipeline step) that skl2onnx cannot convert, or that explaind
    cannot read once converted. The message names the part and what the client
    registers; the converter's own exception, where there was one, is the cause
    (``__cause__``)."""

    def __init__(self, message: str, part: Optional[str] = None) -> None:
        super().__init__(message)
        #: The part of the model at fault (its repr), where known.
        self.part = part


def from_response(status: int, body_text: str) -> ExplaindError:
    """Build the error for a non-2xx answer from its status and body."""
    import json

    try:
        body = json.loads(body_text)
    except ValueError:
        return ExplaindError(status, f"http_{status}", body_text.strip()[:500] or "no body")
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict) and isinstance(err.get("code"), str):
        return ExplaindError(status, err["code"], str(err.get("message", "")), body)
    return ExplaindError(status, f"http_{status}", body_text.strip()[:500], body)
