"""Errors raised by services: a stable ``code`` for translation plus an English message."""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    """Base class: ``code`` names the problem, ``params`` fill the translated message."""

    status = 400

    def __init__(self, code: str, message: str, *, field: str | None = None, **params: Any):
        super().__init__(message)
        self.code = code
        self.field = field
        self.params = params


class InvalidInput(ServiceError):
    """An argument is malformed or out of range; ``field`` names it."""


class NotFound(ServiceError):
    """The thing asked for does not exist (or is not the caller's)."""

    status = 404


class Forbidden(ServiceError):
    """The caller may not do this here (not an admin, not the channel's owner)."""

    status = 403
