"""Alert fan-out: one alert to every chat that wants it, within the platforms' limits, once.

For each alert: find the chats (subscriptions and filters, watchers, followers), claim
``(alert key, chat)`` in ``alert_deliveries`` for this job run (the ``owner``, until a lease),
then send through the platform's :class:`Sender` under its :class:`~bot.limits.ChatLimiter`.
The row states are described in :mod:`engine.services.deliveries`.

**Nothing doubled.** Just before each HTTP call the row is committed as ``sending`` (a group
commit: one transaction carries every send that is about to start, plus the outcomes that just
came back). Telegram has no idempotency key, so a row found ``sending`` once its run is gone
may or may not have been delivered: it becomes ``in_doubt`` and is never resent; so does a
send whose answer was lost (a read timeout, a dropped connection). A SIGKILLed worker loses at
most the sends it had in flight at that instant, and every other row is delivered exactly
once. A reply split into several messages remembers how many parts were accepted
(``parts_sent``), so a retry sends only the rest.

**Nothing lost.** A 429 pauses that chat for ``retry_after`` and tries again; 5xx and network
errors back off and try again. Past the job's patience (:class:`RetryPolicy`, and the
``SOLAI_ALERT_SLICE_S`` a run may take) the row becomes ``retry`` with ``next_attempt_ts``,
never ``failed``: only permanent refusals (bot blocked, chat gone, bad request) are. A memecoin
alert older than ``SOLAI_ALERT_TTL_S`` since its fan-out began is worth less than nothing, so
past it a row becomes ``expired`` instead of being sent late.

**The sweeper.** ``sweep_deliveries`` runs on demand, one job id per 250 ms time bucket (like
``check_orders``' per-minute ids, so any number of callers schedule one run): a run that leaves
``retry`` rows schedules it for the earliest ``next_attempt_ts``, and in production (jobs on
Redis, which outlive a worker) every run schedules it for its own lease end, a watchdog that
fires even if the worker is SIGKILLed. A sweep settles rows still ``sending`` after their lease
(``in_doubt``), expires what is past its TTL, and enqueues one resume job per alert with rows
free to send (``fanout_signal(..., resume=True)`` etc.): a resume takes over due ``retry`` rows
and ``pending`` rows whose lease ran out, and claims no new chats. It reschedules itself while
rows are open. The same take-over happens when arq re-runs a job whose worker died: arq keeps
the job in its queue and starts it again (``job_try`` + 1) once the in-progress key expires,
which is set at the start for a little over the longest registered timeout (about 5 min); by
then the lease has run out, so the re-run resumes from where the dead one stopped. A lease is
two slices: a run stops starting sends after one slice (handing the rest to a resume), so a
live run never outlasts its lease.

In embedded mode (in-process jobs) a process that dies loses its queued jobs; rows it left
``pending`` are resumed by the next sweep any fan-out schedules.

When a group is at its per-group budget a foldable alert is not delayed: it is marked
``digest`` and a ``flush_digest`` job sends one message listing every folded alert once the
budget allows. Jobs (registered from :data:`JOBS` by ``workers/jobs/registry.py``):

=================== ========= ===== ===============================================
name                timeout   tries  enqueued by
=================== ========= ===== ===============================================
fanout_signal       300 s     3      the signal engine after storing a signal
fanout_fill         300 s     3      ingest, for a fill of a watched wallet
fanout_kol_call     300 s     3      ``/publish``
fanout_order_event  300 s     3      trading (TP/SL reached, filled, failed)
flush_digest        120 s     3      this module, when it folds alerts of a group
sweep_deliveries    60 s      3      this module (retries, watchdogs) and itself
retract_signal      120 s     10     the signal engine, when a signal's transaction was
                                     never confirmed (ingest at ``processed``)
=================== ========= ===== ===============================================

**Retraction.** ``retract_signal`` expires the signal's rows not sent yet (``expired``, error
``retracted``: a run holding them finds them gone at its ``sending`` mark and skips them),
waits (a transient retry) while a row is ``sending``, then edits every ``sent`` message to
append the retraction line and drop the buttons. ``fanout_signal`` sends nothing for a
retracted signal.

The fan-out timeouts are a backstop for a hung run; a run's own budget is the slice.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import dataclasses
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol, runtime_checkable

from sqlalchemy import select, update

from bot.alerts import Alert, fill_alert, kol_call_alert, order_alert, signal_alert
from bot.callbacks import Signer
from bot.i18n import N_, gettext_for
from bot.limits import ChatLimiter
from bot.render import render
from bot.reply import Reply
from engine.deps import Deps
from engine.jobs.base import JobContext, Transient
from engine.observability import metrics as M
from engine.services import accounts, deliveries
from engine.services import alerts as alert_service
from engine.services import kol as kol_service
from engine.services import signals as signal_service
from engine.services.accounts import private_chats
from engine.services.alerts import Recipient
from engine.services.deliveries import Held
from engine.services.deliveries import Outcome as Outcome  # re-exported for subclasses
from engine.storage.models import AlertDelivery, Chat, Order, SmartTrade
from engine.storage.models import Signal as StoredSignal

logger = logging.getLogger(__name__)

FANOUT_TIMEOUT_S: Final = 300.0
SWEEP_JOB: Final = "sweep_deliveries"
JOBS: Final[dict[str, tuple[float, int]]] = {
    "fanout_signal": (FANOUT_TIMEOUT_S, 3),
    "fanout_fill": (FANOUT_TIMEOUT_S, 3),
    "fanout_kol_call": (FANOUT_TIMEOUT_S, 3),
    "fanout_order_event": (FANOUT_TIMEOUT_S, 3),
    "flush_digest": (120.0, 3),
    SWEEP_JOB: (60.0, 3),
    "retract_signal": (120.0, 10),
}
"""Job name -> (timeout seconds, max tries), for the job registry."""

SWEEP_BUCKET_MS: Final = 250
"""Sweeps are scheduled on this grid; one job id per bucket."""
LEASE_SLICES: Final = 2
"""A run's lease, in slices: it stops starting sends after one, so it never outlives two."""
NO_LONGER_WANTED: Final = "no longer in the audience"


class RateLimited(Exception):
    """The platform answered 429: wait ``retry_after`` seconds before sending to that chat.

    ``parts`` counts the reply's messages accepted before the refusal (skipped ones included).
    """

    def __init__(self, retry_after: float, *, parts: int = 0) -> None:
        super().__init__(f"rate limited, retry after {retry_after:g}s")
        self.retry_after = retry_after
        self.parts = parts


class SendFailed(Exception):
    """Sending failed; ``permanent`` when retrying cannot help (blocked, chat gone, bad request).

    ``ambiguous`` when the request may have reached the platform and its answer was lost (a
    read timeout, a dropped connection): retrying could post it twice. ``parts`` as in
    :class:`RateLimited`.
    """

    def __init__(
        self, reason: str, *, permanent: bool, ambiguous: bool = False, parts: int = 0
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.ambiguous = ambiguous
        self.parts = parts


@dataclass(frozen=True, slots=True)
class Target:
    """Where one message goes."""

    chat_id: str
    kind: str
    topic_id: int | None = None


@runtime_checkable
class Editor(Protocol):
    """A sender that can also rewrite a message it sent (Telegram, Discord)."""

    platform: str
    limiter: ChatLimiter

    async def edit(self, target: Target, message_id: str, reply: Reply) -> None:
        """Replace the text of ``message_id`` (the last part of an alert) with ``reply``'s last
        part and remove its buttons. Raises RateLimited or SendFailed."""
        ...


class Sender(Protocol):
    """One platform's way to post a reply to a chat, and its limiter."""

    platform: str
    limiter: ChatLimiter

    async def send(self, target: Target, reply: Reply, *, skip: int = 0) -> str:
        """Post the reply's messages from number ``skip`` on; returns the last message id.

        Raises RateLimited or SendFailed, whose ``parts`` says how many were accepted.
        """
        ...


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Patience inside one run, and the delay before a ``retry`` row is tried again.

    Inside a run: ``max_attempts`` tries for failures other than 429 with exponential backoff,
    and at most ``max_rate_limited`` 429s honoured per chat. Later: ``later_base_s`` doubled per
    attempt already made, capped at ``later_max_s`` (a 429's own ``retry_after`` when longer).
    """

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    max_rate_limited: int = 5
    later_base_s: float = 2.0
    later_max_s: float = 60.0

    def backoff(self, attempt: int) -> float:
        """Delay before retry number ``attempt`` (1-based)."""
        return float(min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1)))

    def later(self, attempts: int) -> float:
        """Delay before a ``retry`` row that has ``attempts`` recorded is due again."""
        return float(min(self.later_max_s, self.later_base_s * 2 ** max(0, attempts - 1)))


@dataclass(slots=True)
class Report:
    """How a run ended, by status, plus the 429s honoured and retries made on the way."""

    alert_key: str
    recipients: int = 0
    claimed: int = 0
    """Rows this run held: newly claimed plus taken over."""
    resumed: int = 0
    """Of those, rows taken over (due retries, rows of a dead run)."""
    sent: int = 0
    failed: int = 0
    retry: int = 0
    expired: int = 0
    in_doubt: int = 0
    digest: int = 0
    elsewhere: int = 0
    """Rows another run took over before this one could send them."""
    skipped_no_sender: int = 0
    rate_limited: int = 0
    retried: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the job's result)."""
        return dataclasses.asdict(self)


ELSEWHERE: Final = "elsewhere"
_REPORTED: Final = frozenset(
    {"sent", "failed", "retry", "expired", "in_doubt", "digest", ELSEWHERE}
)


class _Ledger:
    """One run's writes in group commits: ``sending`` marks (awaited) and outcomes (queued).

    A sender waits for its mark's commit before the HTTP call; outcomes ride along in the same
    transactions, so a result is on disk a database round trip after it came back.
    """

    def __init__(self, deps: Deps, alert_key: str, owner: str) -> None:
        self._deps = deps
        self._key = alert_key
        self._owner = owner
        self._marks: list[tuple[int, asyncio.Future[bool]]] = []
        self._outcomes: list[Outcome] = []
        self._wake = asyncio.Event()
        self._closing = False
        self._task = asyncio.create_task(self._run(), name=f"ledger {alert_key}")

    async def mark(self, chat_id: int) -> bool:
        """Commit ``chat_id`` as ``sending``; False when another run holds the row now."""
        fut: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._marks.append((chat_id, fut))
        self._wake.set()
        return await fut

    def put(self, outcome: Outcome) -> None:
        """Queue an outcome for the next commit."""
        self._outcomes.append(outcome)
        self._wake.set()

    async def close(self) -> None:
        """Write what is queued and stop."""
        self._closing = True
        self._wake.set()
        await self._task

    def abort(self) -> None:
        """Stop without writing (the run is being cancelled)."""
        self._task.cancel()

    async def _run(self) -> None:
        while True:
            if not self._marks and not self._outcomes:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            marks, self._marks = self._marks, []
            outcomes, self._outcomes = self._outcomes, []
            try:
                now = self._deps.clock.now_ms()
                async with self._deps.sessions.begin() as session:
                    await deliveries.record(
                        session,
                        alert_key=self._key,
                        owner=self._owner,
                        outcomes=outcomes,
                        now_ms=now,
                    )
                    granted = await deliveries.mark_sending(
                        session,
                        alert_key=self._key,
                        owner=self._owner,
                        chat_ids=[c for c, _ in marks],
                        now_ms=now,
                    )
            except Exception as exc:
                # Outcomes not written leave rows `sending` (in doubt later) or `pending`
                # (resumed later): conservative, never a duplicate.
                logger.exception("delivery ledger of %s could not write", self._key)
                for _, fut in marks:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for chat_id, fut in marks:
                if not fut.done():
                    fut.set_result(chat_id in granted)


@dataclass(slots=True)
class _Run:
    """What one delivery run's chats share (passed to ``_deliver_one`` via a context var)."""

    owner: str
    deadline: float
    held: dict[int, Held]
    ledger: _Ledger


_RUN: contextvars.ContextVar[_Run] = contextvars.ContextVar("fanout_run")


def _bucket_of(at_ms: int) -> int:
    return -(-at_ms // SWEEP_BUCKET_MS)


async def schedule_sweep(deps: Deps, *, at_ms: int) -> None:
    """Have ``sweep_deliveries`` run at ``at_ms`` (rounded up to the bucket; one job a bucket)."""
    bucket = _bucket_of(at_ms)
    due = bucket * SWEEP_BUCKET_MS
    defer = max(0.0, (due - deps.clock.now_ms()) / 1000)
    try:
        await deps.jobs.enqueue(
            SWEEP_JOB, job_id=f"{SWEEP_JOB}:{bucket}", defer_s=defer, due_ms=due
        )
    except Exception:
        logger.exception("could not schedule the delivery sweep for %s", due)


def _count(platform: str, status: str, n: int = 1) -> None:
    if n:
        M.ALERTS_SENT.labels(platform, status).inc(n)


Plan = Sequence[tuple[Alert, Sequence[Recipient]]]
"""What one job delivers: alerts of one key, each to its recipients (fills: one per alias)."""


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
        slice_s: float | None = None,
        watchdog: bool | None = None,
    ) -> None:
        self.deps = deps
        self.senders = dict(senders)
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self._sleep = sleep
        self.signer = Signer(deps.settings.secret_key.get_secret_value())
        self.slice_s = slice_s if slice_s is not None else deps.settings.alert_slice_s
        """How long one run may start sends; the rest is handed to a resume."""
        self.watchdog = watchdog if watchdog is not None else not deps.settings.embedded
        """Schedule a sweep at each run's lease end (jobs that outlive the process: Redis)."""

    async def deliver(self, alert: Alert, recipients: Sequence[Recipient]) -> Report:
        """Send ``alert`` to each recipient once (see the module docstring); returns the tally."""
        return await self.run(alert.key, [(alert, recipients)])

    async def run(
        self,
        alert_key: str,
        plan: Plan,
        *,
        job_id: str | None = None,
        resume: bool = False,
        due_ms: int | None = None,
    ) -> Report:
        """Deliver one alert key: claim new chats (unless ``resume``), take over free rows, send.

        ``due_ms`` is the time the sweep that asked for this resume was scheduled for: ``retry``
        rows due by then are taken even if this clock reads earlier.
        """
        deps = self.deps
        report = Report(alert_key, recipients=sum(len(rs) for _, rs in plan))
        owner = f"{job_id or 'run'}#{uuid.uuid4().hex[:12]}"
        started = time.monotonic()
        now = deps.clock.now_ms()
        lease_ts = now + int(LEASE_SLICES * self.slice_s * 1000)
        by_chat: dict[int, tuple[Alert, Recipient]] = {}
        no_sender: dict[int, str] = {}
        for alert, recipients in plan:
            for r in recipients:
                if r.chat.platform in self.senders:
                    by_chat.setdefault(r.chat.id, (alert, r))
                else:
                    # Not claimed: a process that has this platform's sender can still deliver it.
                    no_sender[r.chat.id] = r.chat.platform
                    report.skipped_no_sender += 1
        ttl_s = next((a.ttl_s for a, _ in plan), None) or deps.settings.alert_ttl_s
        async with deps.sessions.begin() as session:
            claimed: list[int] = []
            if not resume and by_chat:
                claimed = await deliveries.claim_many(
                    session,
                    alert_key=alert_key,
                    chat_ids=list(by_chat),
                    now_ms=now,
                    owner=owner,
                    lease_ts=lease_ts,
                    expires_ts=now + ttl_s * 1000,
                )
            taken, in_doubt = await deliveries.take_over(
                session,
                alert_key=alert_key,
                owner=owner,
                lease_ts=lease_ts,
                now_ms=now,
                due_ms=due_ms,
            )
        held = {c: Held(c, 0, now + ttl_s * 1000) for c in claimed}
        for h in taken:
            if h.chat_id not in held:
                report.resumed += 1
            held[h.chat_id] = h
        report.claimed = len(held)
        report.in_doubt += len(in_doubt)
        for c in in_doubt:
            _count(self._platform(c, by_chat, no_sender), deliveries.IN_DOUBT)
        if in_doubt:
            logger.warning(
                "alert %s: %d sends of a dead run are in doubt", alert_key, len(in_doubt)
            )
        if not held:
            return report
        if self.watchdog:
            await schedule_sweep(deps, at_ms=lease_ts + SWEEP_BUCKET_MS)
        ledger = _Ledger(deps, alert_key, owner)
        state = _Run(owner, started + self.slice_s, held, ledger)
        token = _RUN.set(state)
        gate = asyncio.Semaphore(self.concurrency)
        folded: list[Recipient] = []
        outcomes: list[Outcome] = []

        async def one(alert: Alert, recipient: Recipient) -> None:
            """Deliver to one chat and count the outcome."""
            async with gate:
                outcome = await self._deliver_one(alert, recipient, report)
            if outcome.status == deliveries.DIGEST:
                folded.append(recipient)
            outcomes.append(outcome)

        try:
            orphans = [
                self._orphan(h, no_sender.get(c)) for c, h in held.items() if c not in by_chat
            ]
            for o in orphans:
                ledger.put(o)
            outcomes.extend(orphans)
            results = await asyncio.gather(
                *(one(*by_chat[c]) for c in held if c in by_chat), return_exceptions=True
            )
            await ledger.close()
        except BaseException:
            ledger.abort()
            raise
        finally:
            _RUN.reset(token)
        errors = [r for r in results if isinstance(r, BaseException)]
        for o in outcomes:
            if o.status in _REPORTED:
                setattr(report, o.status, getattr(report, o.status) + 1)
            if o.status != ELSEWHERE:
                _count(self._platform(o.chat_id, by_chat, no_sender), o.status)
        retry_at = [o.next_attempt_ts for o in outcomes if o.next_attempt_ts is not None]
        if retry_at:
            floor = (due_ms + SWEEP_BUCKET_MS) if due_ms is not None else 0
            await schedule_sweep(deps, at_ms=max(min(retry_at), floor))
        for recipient in folded:
            await self._schedule_digest(alert_of(by_chat, recipient), recipient)
        logger.info("fan-out %s: %s", alert_key, report.to_dict())
        if errors:
            raise errors[0]
        return report

    @staticmethod
    def _platform(
        chat_id: int, by_chat: Mapping[int, tuple[Alert, Recipient]], no_sender: Mapping[int, str]
    ) -> str:
        if chat_id in by_chat:
            return by_chat[chat_id][1].chat.platform
        return no_sender.get(chat_id, "unknown")

    def _orphan(self, held: Held, platform: str | None) -> Outcome:
        """A row this run holds but cannot send: no sender here (retry later), or unwanted."""
        now = self.deps.clock.now_ms()
        if platform is not None:
            return Outcome(
                held.chat_id,
                deliveries.RETRY,
                error=f"no {platform} sender in this process",
                parts_sent=held.parts_sent,
                next_attempt_ts=now + int(self.retry.later(held.attempts + 1) * 1000),
            )
        return Outcome(
            held.chat_id, deliveries.FAILED, error=NO_LONGER_WANTED, parts_sent=held.parts_sent
        )

    async def _deliver_one(self, alert: Alert, recipient: Recipient, report: Report) -> Outcome:
        """Send to one held chat until it is sent, refused, handed on or out of time."""
        run = _RUN.get()
        chat = recipient.chat
        held = run.held[chat.id]
        sender = self.senders[chat.platform]
        group = chat.kind != "private"
        key = chat.external_id
        target = Target(chat.external_id, chat.kind, recipient.topic_id)
        parts = held.parts_sent
        ledger = run.ledger

        def later(error: str, delay_s: float) -> Outcome:
            at = self.deps.clock.now_ms() + max(0, math.ceil(delay_s * 1000))
            return Outcome(
                chat.id, deliveries.RETRY, error=error, parts_sent=parts, next_attempt_ts=at
            )

        def finish(outcome: Outcome) -> Outcome:
            ledger.put(outcome)
            return outcome

        try:
            reply = alert.reply(chat)
        except Exception as exc:
            logger.exception("alert %s does not render for chat %s", alert.key, chat.id)
            return finish(Outcome(chat.id, deliveries.FAILED, error=f"render: {exc}"))
        attempts = 0
        limited = 0
        while True:
            if held.expires_ts is not None and self.deps.clock.now_ms() >= held.expires_ts:
                return finish(Outcome(chat.id, deliveries.EXPIRED, parts_sent=parts))
            remaining = run.deadline - time.monotonic()
            if remaining <= 0:
                return finish(later("handed to a resume: the run's slice ended", 0))
            try:
                async with asyncio.timeout(remaining):
                    allowed = await sender.limiter.acquire(
                        key, group=group, fold=alert.foldable and parts == 0
                    )
            except TimeoutError:
                return finish(later("handed to a resume: the run's slice ended", 0))
            if not allowed:
                return finish(Outcome(chat.id, deliveries.DIGEST))
            granted = sender.limiter.now()
            if not await ledger.mark(chat.id):
                return Outcome(chat.id, ELSEWHERE)
            # The commit took a while: leave at the slot plus the limiter's shared shift, so the
            # sends stay as evenly spaced on the server's side as their slots were.
            await sender.limiter.depart(granted)
            try:
                message_id = await sender.send(target, reply, skip=parts)
            except RateLimited as exc:
                parts = max(parts, exc.parts)
                limited += 1
                report.rate_limited += 1
                sender.limiter.penalize(key, exc.retry_after)
                wait_past_slice = time.monotonic() + exc.retry_after > run.deadline
                if limited > self.retry.max_rate_limited or wait_past_slice:
                    return finish(
                        later(
                            f"429 {limited} times: {exc}",
                            max(exc.retry_after, self.retry.later(held.attempts + 1)),
                        )
                    )
                ledger.put(Outcome(chat.id, deliveries.PENDING, error=str(exc), parts_sent=parts))
                continue
            except SendFailed as exc:
                parts = max(parts, exc.parts)
                if exc.ambiguous:
                    logger.warning("alert %s to chat %s in doubt: %s", alert.key, chat.id, exc)
                    return finish(
                        Outcome(chat.id, deliveries.IN_DOUBT, error=str(exc), parts_sent=parts)
                    )
                if exc.permanent:
                    logger.warning("alert %s to chat %s failed: %s", alert.key, chat.id, exc)
                    return finish(
                        Outcome(chat.id, deliveries.FAILED, error=str(exc), parts_sent=parts)
                    )
                attempts += 1
                delay = self.retry.backoff(attempts)
                if attempts >= self.retry.max_attempts or time.monotonic() + delay > run.deadline:
                    return finish(later(str(exc), self.retry.later(held.attempts + 1)))
                ledger.put(Outcome(chat.id, deliveries.PENDING, error=str(exc), parts_sent=parts))
                report.retried += 1
                await self._sleep(delay)
                continue
            except BaseException as exc:
                # A bug or a cancellation while the request may be out: never resend it.
                ledger.put(
                    Outcome(chat.id, deliveries.IN_DOUBT, error=repr(exc)[:200], parts_sent=parts)
                )
                raise
            return finish(
                Outcome(chat.id, deliveries.SENT, message_id=message_id, parts_sent=parts)
            )

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

    async def flush_digest(
        self, *, chat_id: int, topic_id: int | None = None, job_id: str | None = None
    ) -> Report:
        """Send one digest of a group's folded alerts (those not taken by another flush)."""
        deps = self.deps
        now = deps.clock.now_ms()
        owner = f"{job_id or 'digest'}#{uuid.uuid4().hex[:12]}"
        lease_ts = now + int(LEASE_SLICES * self.slice_s * 1000)
        async with deps.sessions.begin() as session:
            chat = await session.get(Chat, chat_id)
            keys = await deliveries.take_digest(
                session, chat_id=chat_id, now_ms=now, owner=owner, lease_ts=lease_ts
            )
        report = Report(f"digest:{chat_id}", recipients=len(keys), claimed=len(keys))
        if chat is None or not keys or chat.platform not in self.senders:
            # Rows taken stay `pending` under this lease; a sweep resumes them one by one.
            return report
        lines = []
        async with deps.sessions() as session:
            for key in keys:
                lines.append(await self._digest_line(session, key))
        lang = chat.language
        reply = Reply(
            render(lang, "digest.html", lines=lines),
            title=gettext_for(lang, N_("Digest")),
            tone="alert",
        )
        sender = self.senders[chat.platform]
        async with deps.sessions.begin() as session:
            for key in keys:
                await deliveries.mark_sending(
                    session, alert_key=key, owner=owner, chat_ids=[chat_id], now_ms=now
                )
        limited = 0
        attempts = 0
        parts = 0
        status: str
        mid: str | None = None
        error: str | None = None
        while True:
            await sender.limiter.acquire(chat.external_id, group=chat.kind != "private")
            await sender.limiter.depart(sender.limiter.now())
            try:
                mid = await sender.send(
                    Target(chat.external_id, chat.kind, topic_id), reply, skip=parts
                )
            except RateLimited as exc:
                parts = max(parts, exc.parts)
                limited += 1
                sender.limiter.penalize(chat.external_id, exc.retry_after)
                if limited <= self.retry.max_rate_limited:
                    continue
                status, error = deliveries.RETRY, str(exc)
            except SendFailed as exc:
                parts = max(parts, exc.parts)
                attempts += 1
                if not (exc.permanent or exc.ambiguous) and attempts < self.retry.max_attempts:
                    await self._sleep(self.retry.backoff(attempts))
                    continue
                error = str(exc)
                status = (
                    deliveries.IN_DOUBT
                    if exc.ambiguous
                    else deliveries.FAILED
                    if exc.permanent
                    else deliveries.RETRY
                )
            else:
                status = deliveries.SENT
            break
        if status == deliveries.RETRY and parts:
            status, error = deliveries.IN_DOUBT, f"digest partly sent ({parts} parts): {error}"
        async with deps.sessions.begin() as session:
            if status == deliveries.RETRY:
                # Nothing of it was delivered: the alerts wait for the next digest.
                await deliveries.return_to_digest(
                    session,
                    chat_id=chat_id,
                    alert_keys=keys,
                    owner=owner,
                    now_ms=deps.clock.now_ms(),
                )
            else:
                await deliveries.finish_many(
                    session,
                    chat_id=chat_id,
                    alert_keys=keys,
                    now_ms=deps.clock.now_ms(),
                    status=status,
                    message_id=mid if status == deliveries.SENT else None,
                    error=error,
                    owner=owner,
                )
        if status == deliveries.RETRY:
            delay = self.retry.later(1)
            try:
                await deps.jobs.enqueue(
                    "flush_digest",
                    job_id=f"flush_digest:{chat_id}:again:{owner}",
                    defer_s=delay,
                    chat_id=chat_id,
                    topic_id=topic_id,
                )
            except Exception:
                logger.exception("could not reschedule the digest of chat %s", chat_id)
            report.digest = len(keys)
        else:
            setattr(report, status, len(keys))
        _count(chat.platform, status, len(keys))
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


def alert_of(by_chat: Mapping[int, tuple[Alert, Recipient]], recipient: Recipient) -> Alert:
    """The alert a recipient was sent (fills differ by alias)."""
    return by_chat[recipient.chat.id][0]


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


def process_limiter(platform: str, deps: Deps | None = None) -> ChatLimiter:
    """The one limiter of this process for a platform's bot account (published limits).

    With Redis (``deps.redis``), the overall pace is shared by every process of the deployment
    (``bot.limits.SharedPacer``): two worker replicas must not each send at the full rate.
    """
    from bot.limits import DISCORD_LIMITS, TELEGRAM_LIMITS

    if platform not in _LIMITERS:
        shared = None
        if deps is not None and deps.redis is not None:
            shared = (deps.redis, f"{deps.settings.bus_prefix}pace:{platform}")
        _LIMITERS[platform] = ChatLimiter(
            TELEGRAM_LIMITS if platform == "telegram" else DISCORD_LIMITS, shared=shared
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


def chat_migrator(deps: Deps) -> Callable[[str, str], Awaitable[None]]:
    """What a Telegram sender calls when a group turns out upgraded: store the new id."""

    async def migrate(old_id: str, new_id: str) -> None:
        async with deps.sessions.begin() as session:
            await accounts.migrate_chat(session, platform="telegram", old_id=old_id, new_id=new_id)

    return migrate


@contextlib.asynccontextmanager
async def fanout_senders_from_settings(deps: Deps) -> AsyncIterator[dict[str, Sender]]:
    """Telegram and Discord senders for the tokens that are set (none when none is)."""
    async with contextlib.AsyncExitStack() as stack:
        senders: dict[str, Sender] = {}
        settings = deps.settings
        if settings.telegram_token is not None:
            from bot.telegram_adapter import open_telegram_sender

            telegram = await stack.enter_async_context(
                open_telegram_sender(settings, process_limiter("telegram", deps))
            )
            telegram.on_migrate = chat_migrator(deps)
            senders["telegram"] = telegram
        if settings.discord_token is not None:
            from bot.discord_adapter import open_discord_sender

            senders["discord"] = await stack.enter_async_context(
                open_discord_sender(settings, process_limiter("discord", deps))
            )
        yield senders


# -- jobs ----------------------------------------------------------------------------------------


async def _signal_plan(
    deps: Deps, fanout: Fanout, signal_id: int
) -> list[tuple[Alert, Any]] | None:
    async with deps.sessions() as session:
        alert = await signal_alert(
            session, signal_id=signal_id, signer=fanout.signer, now_ms=deps.clock.now_ms()
        )
        if alert is None:
            return None
        stored = await signal_service.get_signal(session, signal_id=signal_id)
        assert stored is not None
        if stored.status == "retracted":
            logger.warning("fanout_signal: signal %s was retracted: not sent", signal_id)
            return None
        return [(alert, await alert_service.signal_audience(session, signal=stored))]


async def fanout_signal(
    ctx: JobContext, *, signal_id: int, ts: int, resume: bool = False, due_ms: int | None = None
) -> dict[str, Any]:
    """Push a new signal to every chat whose alert settings let it through (or resume it)."""
    deps: Deps = ctx.deps
    key = f"signal:{signal_id}"
    async with fanout_for(deps) as fanout:
        plan = await _signal_plan(deps, fanout, signal_id)
        if plan is None:
            logger.warning("fanout_signal: no signal %s (ts %s)", signal_id, ts)
            if resume:  # settle what is left of it
                await fanout.run(key, [], job_id=ctx.job_id, resume=True, due_ms=due_ms)
            return {"alert_key": key, "missing": True}
        report = await fanout.run(key, plan, job_id=ctx.job_id, resume=resume, due_ms=due_ms)
        return report.to_dict()


async def fanout_fill(
    ctx: JobContext, *, signature: str, idx: int, resume: bool = False, due_ms: int | None = None
) -> dict[str, Any]:
    """Tell the users watching a wallet about its fill, each with their own alias for it."""
    deps: Deps = ctx.deps
    key = f"fill:{signature}:{idx}"
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            fill = await session.get(SmartTrade, (signature, idx))
            plan: list[tuple[Alert, Sequence[Recipient]]] = []
            if fill is not None:
                audience = await alert_service.fill_audience(session, wallet=fill.wallet)
                by_alias: dict[str | None, list[Recipient]] = {}
                for recipient, alias in audience:
                    by_alias.setdefault(alias, []).append(recipient)
                plan = [
                    (await fill_alert(session, fill=fill, alias=a, signer=fanout.signer), rs)
                    for a, rs in by_alias.items()
                ]
        if fill is None and not resume:
            return {"alert_key": key, "missing": True}
        report = await fanout.run(key, plan, job_id=ctx.job_id, resume=resume, due_ms=due_ms)
        return report.to_dict()


async def fanout_kol_call(
    ctx: JobContext, *, call_id: int, resume: bool = False, due_ms: int | None = None
) -> dict[str, Any]:
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
        report = await fanout.run(
            alert.key, [(alert, recipients)], job_id=ctx.job_id, resume=resume, due_ms=due_ms
        )
        return report.to_dict()


async def fanout_order_event(
    ctx: JobContext,
    *,
    order_id: int,
    event: str,
    ts: int,
    resume: bool = False,
    due_ms: int | None = None,
) -> dict[str, Any]:
    """Tell a user about their order (TP/SL reached, filled, failed) in their private chats."""
    deps: Deps = ctx.deps
    key = f"order:{order_id}:{event}:{ts}"
    async with fanout_for(deps) as fanout:
        async with deps.sessions() as session:
            order = await session.get(Order, order_id)
            plan: list[tuple[Alert, Sequence[Recipient]]] = []
            if order is not None:
                alert = await order_alert(
                    session, order=order, event=event, ts=ts, signer=fanout.signer
                )
                plan = [(alert, await alert_service.user_audience(session, user_id=order.user_id))]
        if order is None and not resume:
            return {"alert_key": key, "missing": True}
        report = await fanout.run(key, plan, job_id=ctx.job_id, resume=resume, due_ms=due_ms)
        return report.to_dict()


async def flush_digest(
    ctx: JobContext, *, chat_id: int, topic_id: int | None = None
) -> dict[str, Any]:
    """Send a group's folded alerts as one digest message."""
    async with fanout_for(ctx.deps) as fanout:
        report = await fanout.flush_digest(chat_id=chat_id, topic_id=topic_id, job_id=ctx.job_id)
        return report.to_dict()


RETRACTED_LINE: Final = N_(
    "⚠️ Retracted: the transaction that fired this was dropped by the cluster."
)
RETRACTED: Final = "retracted"
"""The ``error`` of a delivery row expired because its signal was retracted."""


async def retract_signal(ctx: JobContext, *, signal_id: int, ts: int) -> dict[str, Any]:
    """Mark a retracted signal's alerts: unsent rows expire, sent messages are edited.

    Retried (``Transient``) while one of its rows is ``sending``: the answer decides whether
    there is a message to edit. Edits that Telegram says change nothing count as done, so a
    retried job edits each message at most once in effect.
    """
    deps: Deps = ctx.deps
    key = f"signal:{signal_id}"
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as session:
        t = AlertDelivery.__table__.c
        result = await session.execute(
            update(AlertDelivery)
            .where(
                t.alert_key == key,
                t.status.in_((deliveries.PENDING, deliveries.RETRY, deliveries.DIGEST)),
            )
            .values(status=deliveries.EXPIRED, error=RETRACTED, updated_ts=now)
            .returning(t.chat_id)
        )
        expired = [int(c) for c in result.scalars()]
        rows = await deliveries.deliveries_of(session, alert_key=key)
        in_flight = [r.chat_id for r in rows if r.status == deliveries.SENDING]
        sent = [(r.chat_id, r.message_id) for r in rows if r.status == deliveries.SENT]
        chats = {
            c.id: c
            for c in await session.scalars(select(Chat).where(Chat.id.in_([c for c, _ in sent])))
        }
        stored = await session.get(StoredSignal, (signal_id, ts))
    for _ in expired:
        _count("unknown", deliveries.EXPIRED)
    if in_flight:
        raise Transient(f"{len(in_flight)} send(s) of {key} in flight", defer_s=1.0)
    edited = failed = 0
    async with fanout_for(deps) as fanout:
        alert = None
        if stored is not None:
            async with deps.sessions() as session:
                alert = await signal_alert(
                    session, signal_id=signal_id, signer=fanout.signer, now_ms=now
                )
        for chat_id, message_id in sent:
            chat = chats.get(chat_id)
            sender = fanout.senders.get(chat.platform) if chat is not None else None
            if chat is None or not message_id or not isinstance(sender, Editor):
                failed += 1
                continue
            line = gettext_for(chat.language, RETRACTED_LINE)
            body = alert.reply(chat).html if alert is not None else ""
            reply = Reply(
                f"{body}\n\n<b>{line}</b>" if body else f"<b>{line}</b>",
                title=alert.title if alert is not None else None,
                tone="warning",
            )
            await sender.limiter.acquire(chat.external_id, group=chat.kind != "private")
            await sender.limiter.depart(sender.limiter.now())
            try:
                await sender.edit(Target(chat.external_id, chat.kind), message_id, reply)
            except RateLimited as exc:
                raise Transient(f"rate limited editing {key}", defer_s=exc.retry_after) from exc
            except SendFailed as exc:
                if exc.permanent:
                    failed += 1
                    logger.warning("cannot edit %s in chat %s: %s", key, chat_id, exc)
                    continue
                raise Transient(f"editing {key}: {exc}", defer_s=1.0) from exc
            edited += 1
    return {"alert_key": key, "expired": len(expired), "edited": edited, "not_edited": failed}


def resume_job(alert_key: str) -> tuple[str, dict[str, Any]] | None:
    """The job (name, arguments) that delivers ``alert_key``; None for a key no job knows."""
    kind, _, rest = alert_key.partition(":")
    try:
        if kind == "signal":
            return "fanout_signal", {"signal_id": int(rest), "ts": 0}
        if kind == "fill":
            signature, _, idx = rest.rpartition(":")
            return "fanout_fill", {"signature": signature, "idx": int(idx)}
        if kind == "kol_call":
            return "fanout_kol_call", {"call_id": int(rest)}
        if kind == "order":
            order_id, _, tail = rest.partition(":")
            event, _, ts = tail.rpartition(":")
            return "fanout_order_event", {"order_id": int(order_id), "event": event, "ts": int(ts)}
    except ValueError:
        return None
    return None


async def sweep_deliveries(ctx: JobContext, *, due_ms: int | None = None) -> dict[str, Any]:
    """Settle dead sends, expire stale rows, resume alerts with rows free to send again.

    ``due_ms`` is the bucket this sweep was scheduled for: rows due by then count as due even
    if the clock reads a little earlier. Reschedules itself while rows are open.
    """
    deps: Deps = ctx.deps
    now = deps.clock.now_ms()
    horizon = max(now, due_ms or 0)
    async with deps.sessions.begin() as session:
        dead = await deliveries.settle_dead_sends(session, now_ms=now)
        expired = await deliveries.expire_due(session, now_ms=now, due_ms=horizon)
        keys = await deliveries.due_alert_keys(session, now_ms=now, due_ms=horizon)
        wake = await deliveries.next_wakeup(session, now_ms=now, due_ms=horizon)
        depth = await deliveries.open_count(session)
        platforms = await deliveries.platforms_of(session, chat_ids=[c for _, c in dead + expired])
    M.ALERT_QUEUE.set(depth)
    for rows, status in ((dead, deliveries.IN_DOUBT), (expired, deliveries.EXPIRED)):
        for _, chat_id in rows:
            _count(platforms.get(chat_id, "unknown"), status)
    if dead:
        logger.warning("delivery sweep: %d sends of dead runs are in doubt", len(dead))
    resumed = []
    for key in keys:
        job = resume_job(key)
        if job is None:
            # Nothing can rebuild this alert: settle its free rows (as `failed`).
            await Fanout(deps, {}).run(key, [], job_id=ctx.job_id, resume=True, due_ms=horizon)
            continue
        name, kwargs = job
        try:
            queued = await deps.jobs.enqueue(
                name,
                job_id=f"{name}:resume:{horizon}:{key}",
                resume=True,
                due_ms=horizon,
                **kwargs,
            )
        except Exception:
            logger.exception("could not enqueue the resume of %s", key)
            continue
        if queued:
            resumed.append(key)
    if keys:
        # A safety net: if a resume dies before taking its rows, look again after a lease.
        net = horizon + int(LEASE_SLICES * deps.settings.alert_slice_s * 1000)
        wake = net if wake is None else min(wake, net)
    if wake is not None:
        await schedule_sweep(deps, at_ms=max(wake, horizon + SWEEP_BUCKET_MS))
    return {
        "in_doubt": len(dead),
        "expired": len(expired),
        "resumed": resumed,
        "open": depth,
        "next": wake,
    }
