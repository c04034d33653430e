"""A local stand-in for Discord's REST API (``/api/v10``), enough for discord.py's REST client:
login, command sync, interaction callbacks and follow-ups, channel messages. It records every
request and checks what Discord checks on our payloads (embed and component limits)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

APP_ID = 1_200_000_000_000_000_001
BOT_ID = 1_200_000_000_000_000_002


@dataclass
class Request:
    method: str
    path: str
    body: Any
    status: int


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _user(uid: int, name: str, bot: bool = False) -> dict[str, Any]:
    return {
        "id": str(uid),
        "username": name,
        "discriminator": "0",
        "global_name": name,
        "avatar": None,
        "bot": bot,
    }


def check_message(body: dict[str, Any]) -> str | None:
    """Discord's limits on a message payload; the reason it would be refused, or None."""
    embeds = body.get("embeds") or []
    if len(embeds) > 10:
        return "too many embeds"
    total = 0
    for e in embeds:
        title, desc = e.get("title") or "", e.get("description") or ""
        if len(title) > 256 or len(desc) > 4096:
            return "embed title or description too long"
        total += len(title) + len(desc)
    if total > 6000:
        return "embeds over 6000 characters"
    rows = body.get("components") or []
    if len(rows) > 5:
        return "too many component rows"
    for row in rows:
        buttons = row.get("components") or []
        if len(buttons) > 5:
            return "too many buttons in a row"
        for b in buttons:
            if not 1 <= len(b.get("label") or "") <= 80:
                return "button label length"
            if "custom_id" in b and len(b["custom_id"]) > 100:
                return "custom_id over 100"
            if "url" in b and len(b["url"]) > 512:
                return "url over 512"
    if body.get("allowed_mentions", {}).get("parse"):
        return "mentions must not be allowed"
    return None


class DiscordStub:
    """The stub server; ``requests`` holds every call."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.commands: list[dict[str, Any]] = []
        self._ids = itertools.count(1_300_000_000_000_000_000)
        self.port = 0
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    async def __aenter__(self) -> DiscordStub:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        sock.setblocking(False)
        self._sock, self.port = sock, sock.getsockname()[1]
        config = uvicorn.Config(
            self._asgi, log_config=None, access_log=False, lifespan="off", interface="asgi3"
        )
        self._server = _Server(config)
        self._task = asyncio.get_running_loop().create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.005)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None and self._task is not None and self._sock is not None
        self._server.should_exit = True
        await self._task
        self._sock.close()

    def calls(self, method: str, prefix: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path.startswith(prefix)]

    def message(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": str(next(self._ids)),
            "channel_id": channel_id,
            "type": 0,
            "content": body.get("content") or "",
            "author": _user(BOT_ID, "solai", bot=True),
            "embeds": body.get("embeds") or [],
            "components": body.get("components") or [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "flags": body.get("flags") or 0,
        }

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        parts = path.removeprefix("/api/v10").strip("/").split("/")
        if method == "GET" and parts == ["users", "@me"]:
            return 200, _user(BOT_ID, "solai", bot=True)
        if method == "GET" and parts == ["oauth2", "applications", "@me"]:
            return 200, {
                "id": str(APP_ID),
                "name": "SolAI",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": _user(1, "owner"),
                "verify_key": "00",
                "flags": 0,
            }
        if method == "PUT" and parts[:1] == ["applications"] and parts[-1] == "commands":
            for cmd in body:
                if not 1 <= len(cmd["description"]) <= 100:
                    return 400, {"code": 50035, "message": "Invalid Form Body"}
            self.commands = body
            return 200, [
                {**c, "id": str(next(self._ids)), "application_id": str(APP_ID), "version": "1"}
                for c in body
            ]
        if method == "POST" and parts[0] == "interactions":
            data = (body or {}).get("data") or {}
            if data and check_message(data):
                return 400, {"code": 50035, "message": check_message(data)}
            return 200, {
                "interaction": {
                    "id": parts[1],
                    "type": 2,
                    "response_message_loading": body.get("type") == 5,
                    "response_message_ephemeral": False,
                },
                "resource": {"type": body.get("type", 4)},
            }
        if parts[0] == "webhooks":
            if method == "DELETE":
                return 204, None
            problem = check_message(body or {})
            if problem:
                return 400, {"code": 50035, "message": problem}
            return 200, self.message("0", body or {})
        if parts[0] == "channels" and method == "POST" and parts[-1] == "messages":
            problem = check_message(body or {})
            if problem:
                return 400, {"code": 50035, "message": problem}
            return 200, self.message(parts[1], body)
        if parts[0] == "channels" and method == "PATCH" and parts[2:3] == ["messages"]:
            problem = check_message(body or {})
            if problem:
                return 400, {"code": 50035, "message": problem}
            edited = {**self.message(parts[1], body or {}), "id": parts[3]}
            edited["edited_timestamp"] = "2026-01-01T00:00:01+00:00"
            return 200, edited
        if parts[0] == "channels" and method == "GET":
            return 200, {
                "id": parts[1],
                "type": 5,
                "name": "alpha-calls",
                "guild_id": "999",
                "position": 0,
                "permission_overwrites": [],
            }
        return 404, {"code": 0, "message": "404: Not Found"}

    async def _asgi(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        raw = b""
        more = True
        while more:
            msg = await receive()
            raw += msg.get("body", b"")
            more = msg.get("more_body", False)
        body = json.loads(raw) if raw else None
        status, payload = self._route(scope["method"], scope["path"], body)
        self.requests.append(Request(scope["method"], scope["path"], body, status))
        data = b"" if payload is None else json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json")] if payload is not None else []
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": data})
