"""Alert fan-out: one alert to every chat that wants it, within the platforms' limits, once.

For each alert: find the chats (subscriptions and filters, watchers, followers), claim
``(alert key, chat)`` in ``alert_deliveries`` (a chat already claimed is skipped, so a retried
job never sends twice), then send through the platform's :class:`Sender` under its
:class:`~bot.limits.ChatLimiter`. A 429 pauses that chat for ``retry_after`` and tries again;
other transient failures back off exponentially; permanent ones (bot blocked, chat gone) and
exhausted retries are recorded as ``failed`` with the error. When a group is at its per-group
budget a foldable alert is not delayed: it is marked ``digest`` and a ``flush_digest`` job sends
one message listing every folded alert once the budget allows.

Delivery is at most once per chat: a crash between claim and send leaves the row ``pending``
rather than risking a duplicate. Jobs (register in ``workers/jobs/registry.py``):

=================== ========= ===== ===============================================
name                timeout   tries  enqueued by
=================== ========= ===== ===============================================
fanout_signal       600 s     3      the signal engine after storing a signal
fanout_fill         120 s     3      ingest, for a fill of a watched wallet
fanout_kol_call     600 s     3      ``/publish``
fanout_order_event  60 s      3      trading (TP/SL reached, filled, failed)
flush_digest        120 s     3      this module, when it folds alerts of a group
=================== ========= ===== ===============================================
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from bot.alerts import Alert, fill_alert, kol_call_alert, order_alert, signal_alert
from bot.callbacks import Signer
from bot.i18n import N_, gettext_for
from bot.limits import ChatLimiter
from bot.render import render
from bot.reply import Reply
from engine.deps import Deps
from engine.jobs.base import JobContext
from engine.services import alerts as alert_service
from engine.services import deliveries
from engine.services import kol as kol_service
from engine.services import signals as signal_service
from engine.services.accounts import private_chats
from engine.services.alerts import Recipient
from engine.storage.models import Chat, Order, SmartTrade

logger = logging.getLogger(__name__)

JOBS: Final[dict[str, tuple[float, int]]] = {
    "fanout_signal": (600.0, 3),
    "fanout_fill": (120.0, 3),
    "fanout_kol_call": (600.0, 3),
    "fanout_order_event": (60.0, 3),
    "flush_digest": (120.0, 3),
}
"""Job name -> (timeout seconds, max tries), for the job registry."""


class RateLimited(Exception):
    """The platform answered 429: wait ``retry_after`` seconds before sending to that chat."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after


class SendFailed(Exception):
    """Sending failed; ``permanent`` when retrying cannot help (blocked, chat gone, bad request)."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class Target:
    """Where one message goes."""

    chat_id: str
    kind: str
    topic_id: int | None = None


class Sender(Protocol):
    """One platform's way to post a reply to a chat, and its limiter."""

    platform: str
    limiter: ChatLimiter

    async def send(self, target: Target, reply: Reply) -> str:
        """Post the reply; returns the platform message id. Raises RateLimited or SendFailed."""
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Attempts for failures other than 429, exponential backoff, and a cap on 429s honoured."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_rate_limited: int = 5

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))


@dataclass(slots=True)
class Outcome:
    """How one chat's delivery ended."""

    chat_id: int
    status: str
    message_id: str | None = None
    error: str | None = None


@dataclass(slots=True)
class Report:
    """How a fan-out ended, by status, plus the 429s honoured on the way."""

    alert_key: str
    recipients: int = 0
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    digest: int = 0
    skipped_no_sender: int = 0
    rate_limited: int = 0
    retried: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the job's result)."""
        return dataclasses.asdict(self)


@dataclass(slots=True)
class _Recorder:
    """Writes outcomes in batches, so the database is not hit once per message."""

    deps: Deps
    alert_key: str
    every_s: float = 1.0
    batch: int = 100
    pending: list[Outcome] = field(default_factory=list)
    last: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def add(self, outcome: Outcome) -> None:
        """Buffer an outcome; write the batch when it is big or old enough."""
        self.pending.append(outcome)
        if len(self.pending) >= self.batch or time.monotonic() - self.last >= self.every_s:
            await self.flush()

    async def flush(self) -> None:
        """Write what is buffered."""
        async with self.lock:
            todo, self.pending = self.pending, []
            self.last = time.monotonic()
            if not todo:
                return
            outcomes = [
                deliveries.Outcome(
                    o.chat_id, o.status, o.message_id, o.error[:500] if o.error else None
                )
                for o in todo
            ]
            async with self.deps.sessions.begin() as session:
                await deliveries.finish_batch(
                    session,
                    alert_key=self.alert_key,
                    outcomes=outcomes,
                    now_ms=self.deps.clock.now_ms(),
                )


class Fanout:
    """Delivers alerts through the configured senders."""

    def __init__(
        self,
        deps: Deps,
        senders: Mapping[str, Sender],
        *,
        retry: RetryPolicy | None = None,
        concurrency: int = 64,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.deps = deps
        self.senders = dict(senders)
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self._sleep = sleep
        self.signer = Signer(deps.settings.secret_key.get_secret_value())

    async def deliver(self, alert: Alert, recipients: Sequence[Recipient]) -> Report:
        """Send ``alert`` to each recipient at most once; returns the tally."""
        report = Report(alert.key, recipients=len(recipients))
        by_chat: dict[int, Recipient] = {}
        for r in recipients:
            if r.chat.platform in self.senders:
                by_chat.setdefault(r.chat.id, r)
            else:
                # Not claimed: a process that has this platform's sender can still deliver it.
                report.skipped_no_sender += 1
        async with self.deps.sessions.begin() as session:
            claimed = await deliveries.claim_many(
                session,
                alert_key=alert.key,
                chat_ids=list(by_chat),
                now_ms=self.deps.clock.now_ms(),
            )
        report.claimed = len(claimed)
        recorder = _Recorder(self.deps, alert.key)
        gate = asyncio.Semaphore(self.concurrency)
        folded: list[Recipient] = []

        async def one(recipient: Recipient) -> None:
            """Deliver to one chat and count the outcome."""
            async with gate:
                outcome = await self._deliver_one(alert, recipient, report)
            if outcome.status == deliveries.DIGEST:
                folded.append(recipient)
            setattr(report, outcome.status, getattr(report, outcome.status) + 1)
            await recorder.add(outcome)

        await asyncio.gather(*(one(by_chat[c]) for c in claimed))
        await recorder.flush()
        for recipient in folded:
            await self._schedule_digest(alert, recipient)
        logger.info("fan-out %s: %s", alert.key, report.to_dict())
        return report

    async def _deliver_one(self, alert: Alert, recipient: Recipient, report: Report) -> Outcome:
        chat = recipient.chat
        sender = self.senders[chat.platform]
        group = chat.kind != "private"
        key = chat.external_id
        target = Target(chat.external_id, chat.kind, recipient.topic_id)
        try:
            reply = alert.reply(chat)
        except Exception as exc:
            logger.exception("alert %s does not render for chat %s", alert.key, chat.id)
            return Outcome(chat.id, "failed", error=f"render: {exc}")
        attempts = 0
        limited = 0
        while True:
            allowed = await sender.limiter.acquire(key, group=group, fold=alert.foldable)
            if not allowed:
                return Outcome(chat.id, deliveries.DIGEST)
            try:
                message_id = await sender.send(target, reply)
            except RateLimited as exc:
                limited += 1
                report.rate_limited += 1
                sender.limiter.penalize(key, exc.retry_after)
                if limited > self.retry.max_rate_limited:
                    return Outcome(chat.id, "failed", error=f"429 {limited} times: {exc}")
                continue
            except SendFailed as exc:
                attempts += 1
                if exc.permanent or attempts >= self.retry.max_attempts:
                    logger.warning("alert %s to chat %s failed: %s", alert.key, chat.id, exc)
                    return Outcome(chat.id, "failed", error=str(exc))
                report.retried += 1
                await self._sleep(self.retry.backoff(attempts))
                continue
            return Outcome(chat.id, "sent", message_id=message_id)

    async def _schedule_digest(self, alert: Alert, recipient: Recipient) -> None:
        chat = recipient.chat
        wait = self.senders[chat.platform].limiter.group_wait(chat.external_id)
        try:
            # One flush job per folded alert: each takes whatever is still waiting, so none is
            # left behind, and the conditional claim in take_digest keeps them from doubling.
            await self.deps.jobs.enqueue(
                "flush_digest",
                job_id=f"flush_digest:{chat.id}:{alert.key}",
                defer_s=wait,
                chat_id=chat.id,
                topic_id=recipient.topic_id,
            )
        except Exception:
            logger.exception("could not schedule the digest of chat %s", chat.id)

    async def flush_digest(self, *, chat_id: int, topic_id: int | None = None) -> Report:
        """Send one digest of a group's folded alerts (those not taken by another flush)."""
        now = self.deps.clock.now_ms()
        async with self.deps.sessions.begin() as session:
            chat = await session.get(Chat, chat_id)
            keys = await deliveries.take_digest(session, chat_id=chat_id, now_ms=now)
        report = Report(f"digest:{chat_id}", recipients=len(keys), claimed=len(keys))
        if chat is None or not keys or chat.platform not in self.senders:
            return report
        lines = []
        async with self.deps.sessions() as session:
            for key in keys:
                lines.append(await self._digest_line(session, key))
        lang = chat.language
        reply = Reply(
            render(lang, "digest.html", lines=lines),
            title=gettext_for(lang, N_("Digest")),
            tone="alert",
        )
        sender = self.senders[chat.platform]
        limited = 0
        attempts = 0
        outcome: Outcome
        while True:
            await sender.limiter.acquire(chat.external_id, group=chat.kind != "private")
            try:
                mid = await sender.send(Target(chat.external_id, chat.kind, topic_id), reply)
            except RateLimited as exc:
                limited += 1
                sender.limiter.penalize(chat.external_id, exc.retry_after)
                if limited <= self.retry.max_rate_limited:
                    continue
                outcome = Outcome(chat_id, "failed", error=str(exc))
            except SendFailed as exc:
                attempts += 1
                if not exc.permanent and attempts < self.retry.max_attempts:
                    await self._sleep(self.retry.backoff(attempts))
                    continue
                outcome = Outcome(chat_id, "failed", error=str(exc))
            else:
                outcome = Outcome(chat_id, "sent", message_id=mid)
            break
        async with self.deps.sessions.begin() as session:
            await deliveries.finish_many(
                session,
                chat_id=chat_id,
                alert_keys=keys,
                now_ms=self.deps.clock.now_ms(),
                status=outcome.status,
                message_id=outcome.message_id,
                error=outcome.error,
            )
        setattr(report, outcome.status, len(keys))
        return report

    async def _digest_line(self, session: Any, key: str) -> str:
        kind, _, rest = key.partition(":")
        try:
            if kind == "signal":
                alert = await signal_alert(
                    session, signal_id=int(rest), signer=self.signer, now_ms=0
                )
                if alert is not None:
                    return alert.digest_line
            if kind == "kol_call":
                return (
                    await kol_call_alert(session, call_id=int(rest), signer=self.signer)
                ).digest_line
        except Exception:
            logger.exception("digest line for %s", key)
        return key


# -- senders for the process -------------------------------------------------------------------

_ATTACHED: dict[int, Fanout] = {}


@contextlib.contextmanager
def attached(deps: Deps, fanout: Fanout) -> Any:
    """Use ``fanout`` for jobs run with ``deps`` (the bot process lends its running clients)."""
    _ATTACHED[id(deps)] = fanout
    try:
        yield fanout
    finally:
        _ATTACHED.pop(id(deps), None)


_LIMITERS: dict[str, ChatLimiter] = {}


def process_limiter(platform: str) -> ChatLimiter:
    """The one limiter of this process for a platform's bot account (published limits)."""
    from bot.limits import DISCORD_LIMITS, TELEGRAM_LIMITS

    if platform not in _LIMITERS:
        _LIMITERS[platform] = ChatLimiter(
            TELEGRAM_LIMITS if platform == "telegram" else DISCORD_LIMITS
        )
    return _LIMITERS[platform]


@contextlib.asynccontextmanager
async def fanout_for(deps: Deps) -> AsyncIterator[Fanout]:
    """The attached fan-out, or one with senders opened from settings for this job only."""
    found = _ATTACHED.get(id(deps))
    if found is not None:
        yield found
        return
    async with fanout_senders_from_settings(deps) as senders:
        if not senders:
            logger.warning("no SOLAI_TELEGRAM_TOKEN or SOLAI_DISCORD_TOKEN: alerts stay unsent")
        yield Fanout(deps, senders)


@contextlib.asynccontextmanager
async def fanout_senders_from_settings(deps: Deps) -> AsyncIterator[dict[str, Sender]]:
    """Telegram and Discord senders for the tokens that are set (none when none is)."""
    async with contextlib.AsyncExitStack() as stack:
        senders: dict[str, Sender] = {}
        settings = deps.settings
        if settings.telegram_token is not None:
            from bot.telegram_adapter import open_telegram_sender

            senders["telegram"] = await stack.enter_async_context(
                open_telegram_sender(settings, process_limiter("telegram"))
            )
        if settings.discord_token is not None:
            from bot.discord_adapter import open_discord_sender

            senders["discord"] = await stack.enter_async_context(
                open_discord_sender(settings, process_limiter("discord"))
            )
        yield senders


# -- jobs ----------------------------------------------------------------------------------------


async def fanout_signal(ctx: JobContext, *, signal_id: int, ts: int) -> dict[str, Any]:
    """Push a new signal to every chat whose alert settings let it through."""
    deps: Deps = ctx.deps
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            alert = await signal_alert(
                session, signal_id=signal_id, signer=fanout.signer, now_ms=deps.clock.now_ms()
            )
            if alert is None:
                logger.warning("fanout_signal: no signal %s (ts %s)", signal_id, ts)
                return {"alert_key": f"signal:{signal_id}", "missing": True}
            stored = await signal_service.get_signal(session, signal_id=signal_id)
            assert stored is not None
            recipients = await alert_service.signal_audience(session, signal=stored)
        return (await fanout.deliver(alert, recipients)).to_dict()


async def fanout_fill(ctx: JobContext, *, signature: str, idx: int) -> dict[str, Any]:
    """Tell the users watching a wallet about its fill, each with their own alias for it."""
    deps: Deps = ctx.deps
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            fill = await session.get(SmartTrade, (signature, idx))
            if fill is None:
                return {"alert_key": f"fill:{signature}:{idx}", "missing": True}
            audience = await alert_service.fill_audience(session, wallet=fill.wallet)
            by_alias: dict[str | None, list[Recipient]] = {}
            for recipient, alias in audience:
                by_alias.setdefault(alias, []).append(recipient)
            alerts = [
                (await fill_alert(session, fill=fill, alias=a, signer=fanout.signer), rs)
                for a, rs in by_alias.items()
            ]
        total = Report(f"fill:{signature}:{idx}")
        for alert, recipients in alerts:
            _add(total, await fanout.deliver(alert, recipients))
        return total.to_dict()


async def fanout_kol_call(ctx: JobContext, *, call_id: int) -> dict[str, Any]:
    """Post a KOL's call in their channel and to their followers' private chats."""
    deps: Deps = ctx.deps
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            alert = await kol_call_alert(session, call_id=call_id, signer=fanout.signer)
            call = await kol_service.get_call(session, call_id=call_id)
            channel = await session.get(Chat, call.channel_id)
            fans = await kol_service.followers(session, channel_chat_id=call.channel_id)
            chats = await private_chats(session, user_ids=fans)
        recipients = [Recipient(channel, None)] if channel is not None else []
        recipients += [Recipient(c, None) for cs in chats.values() for c in cs]
        return (await fanout.deliver(alert, recipients)).to_dict()


async def fanout_order_event(
    ctx: JobContext, *, order_id: int, event: str, ts: int
) -> dict[str, Any]:
    """Tell a user about their order (TP/SL reached, filled, failed) in their private chats."""
    deps: Deps = ctx.deps
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            order = await session.get(Order, order_id)
            if order is None:
                return {"alert_key": f"order:{order_id}:{event}:{ts}", "missing": True}
            alert = await order_alert(
                session, order=order, event=event, ts=ts, signer=fanout.signer
            )
            recipients = await alert_service.user_audience(session, user_id=order.user_id)
        return (await fanout.deliver(alert, recipients)).to_dict()


async def flush_digest(
    ctx: JobContext, *, chat_id: int, topic_id: int | None = None
) -> dict[str, Any]:
    """Send a group's folded alerts as one digest message."""
    async with fanout_for(ctx.deps) as fanout:
        return (await fanout.flush_digest(chat_id=chat_id, topic_id=topic_id)).to_dict()


def _add(total: Report, part: Report) -> None:
    for f in dataclasses.fields(Report):
        if f.name != "alert_key":
            setattr(total, f.name, getattr(total, f.name) + getattr(part, f.name))
