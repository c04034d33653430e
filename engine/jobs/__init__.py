"""Job interface shared by the arq worker pool and the in-process runner."""

from engine.jobs.base import (
    JobContext,
    JobFunc,
    JobQueue,
    JobRegistry,
    JobResult,
    JobSpec,
    Transient,
)

__all__ = [
    "JobContext",
    "JobFunc",
    "JobQueue",
    "JobRegistry",
    "JobResult",
    "JobSpec",
    "Transient",
]
