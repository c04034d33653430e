"""Errors the API raises itself, and the OpenAPI description of the one error shape."""

from __future__ import annotations

from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException

from webapp.schemas import ErrorPublic


class ApiError(StarletteHTTPException):
    """An HTTP error with a stable ``code``, rendered in the API's error shape."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status, detail=message, headers=headers)
        self.code = code


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` entries for these error statuses, all in the error shape."""
    text = {
        400: "Bad input (the message names the field)",
        401: "Missing or invalid credentials (expired initData, bad hash, unknown key)",
        403: "Not allowed for this role",
        404: "Not found",
        409: "Conflicts with the current state",
        410: "Expired",
        422: "Invalid request or refused (risk, policy)",
        429: "Rate limited; see Retry-After",
        502: "An upstream service (Jupiter, RPC) failed",
        504: "An upstream service timed out",
    }
    return {s: {"model": ErrorPublic, "description": text.get(s, "Error")} for s in statuses}
