"""Transport-neutral actions and views shared by the chat bots and the REST API.

Small modules of keyword-only async functions taking a session (or ``Deps``) first. They validate
their input, raise :class:`engine.services.errors.ServiceError` subclasses whose ``code`` the
callers translate, and return plain dataclasses; no chat or HTTP concepts live here.
"""
