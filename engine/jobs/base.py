"""Jobs: named async functions with a timeout and a try budget, enqueued by id, JSON arguments.

Semantics (the same in arq and in the in-process runner, and checked by one contract suite):

- a job raising :class:`Transient` is tried again after its ``defer_s``, up to ``max_tries``;
- any other exception, or running past ``timeout_s``, fails the job at once;
- enqueueing an id that is queued, running or has a kept result returns ``None`` (idempotent);
- arguments and results are JSON.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

JSON = Any


class Transient(Exception):
    """A failure worth retrying (RPC hiccup, lock held): the job runs again after ``defer_s``."""

    def __init__(self, reason: str = "transient failure", *, defer_s: float = 1.0) -> None:
        super().__init__(reason)
        self.defer_s = defer_s


@dataclass(slots=True)
class JobContext:
    """What a job function receives: the process's resources and which try this is."""

    deps: Any
    job_id: str
    job_try: int


JobFunc = Callable[..., Awaitable[JSON]]


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A registered job function with its limits."""

    name: str
    func: JobFunc
    timeout_s: float = 60.0
    max_tries: int = 5


@dataclass(frozen=True, slots=True)
class JobResult:
    """How a job ended: its return value, or the error that failed it."""

    job_id: str
    name: str
    success: bool
    result: JSON = None
    error: str | None = None
    tries: int = 1


class JobRegistry:
    """The jobs a process can run; built at the process edge from the domain's job functions."""

    def __init__(self) -> None:
        self._specs: dict[str, JobSpec] = {}

    def add(self, spec: JobSpec) -> None:
        """Register a job; names are unique."""
        if spec.name in self._specs:
            raise ValueError(f"job {spec.name!r} is already registered")
        if spec.max_tries < 1 or spec.timeout_s <= 0:
            raise ValueError(f"job {spec.name!r}: max_tries >= 1 and timeout_s > 0 are required")
        self._specs[spec.name] = spec

    def job(
        self, name: str, *, timeout_s: float = 60.0, max_tries: int = 5
    ) -> Callable[[JobFunc], JobFunc]:
        """Decorator form of :meth:`add`."""

        def deco(func: JobFunc) -> JobFunc:
            self.add(JobSpec(name, func, timeout_s, max_tries))
            return func

        return deco

    def get(self, name: str) -> JobSpec:
        """The spec of a registered job, or KeyError naming it."""
        try:
            return self._specs[name]
        except KeyError:
            raise KeyError(f"no job named {name!r}") from None

    def __iter__(self) -> Iterator[JobSpec]:
        return iter(self._specs.values())

    def __contains__(self, name: object) -> bool:
        return name in self._specs


class JobQueue(Protocol):
    """Enqueue jobs and read their results."""

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float = 0.0, **kwargs: JSON
    ) -> str | None:
        """Queue a job; returns its id, or None when that id is already queued or done."""
        ...

    async def result(self, job_id: str, *, timeout_s: float = 30.0) -> JobResult:
        """Wait for a job to finish and return how it ended."""
        ...


@dataclass(slots=True)
class JobCounters:
    """Outcome counts, as arq's worker keeps them."""

    complete: int = 0
    failed: int = 0
    retried: int = 0
    extra: dict[str, int] = field(default_factory=dict)
