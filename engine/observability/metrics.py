"""Prometheus metrics of the pipeline, defined once; every process exports the same names.

Counters and gauges mirror the in-process counters (ingest, scorer, jobs, alerts, trades);
latency is a histogram of milliseconds from the chain event's time to the stored signal.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

INGEST_EVENTS = Counter(
    "solai_ingest_events", "Decoded events published to the bus", ["venue"], registry=REGISTRY
)
INGEST_NOTIFICATIONS = Counter(
    "solai_ingest_notifications", "logsNotifications received", ["provider"], registry=REGISTRY
)
INGEST_DECODE_ERRORS = Counter(
    "solai_ingest_decode_errors", "Payloads or documents that did not decode", registry=REGISTRY
)
INGEST_RECONNECTS = Counter(
    "solai_ingest_reconnects",
    "Provider sessions that ended in an error",
    ["provider"],
    registry=REGISTRY,
)
INGEST_BACKFILLED = Counter(
    "solai_ingest_backfilled", "Transactions recovered by reconciliation", registry=REGISTRY
)
INGEST_DUPLICATES = Counter(
    "solai_ingest_duplicates", "Notifications dropped as already seen", registry=REGISTRY
)
INGEST_LAG_SLOTS = Gauge(
    "solai_ingest_lag_slots", "Provider head slot minus last processed slot", registry=REGISTRY
)
INGEST_BUS_BUFFERED = Gauge(
    "solai_ingest_bus_buffered",
    "Decoded events waiting in ingest's buffer for the bus (Redis away or slow)",
    registry=REGISTRY,
)
INGEST_REPUBLISHED = Counter(
    "solai_ingest_republished",
    "Events published again because the bus (Redis) lost its data",
    registry=REGISTRY,
)
INGEST_RETRACTED = Counter(
    "solai_ingest_retracted",
    "Transactions published at processed that were never confirmed (retractions sent)",
    registry=REGISTRY,
)
INGEST_UNCONFIRMED = Gauge(
    "solai_ingest_unconfirmed",
    "Transactions published at processed whose confirmation is still awaited",
    registry=REGISTRY,
)
SCORER_EVENTS = Counter("solai_scorer_events", "Events scored", registry=REGISTRY)
SCORER_SIGNALS = Counter("solai_scorer_signals", "Signals fired", registry=REGISTRY)
SCORER_RETRACTED = Counter(
    "solai_scorer_retracted_signals",
    "Signals retracted because a transaction they rested on was never confirmed",
    registry=REGISTRY,
)
SCORER_BAD_MESSAGES = Counter(
    "solai_scorer_bad_messages", "Bus messages that were not valid events", registry=REGISTRY
)
SCORER_WRITE_PENDING = Gauge(
    "solai_scorer_write_pending",
    "1 while a scored batch waits for the database (consumption paused), else 0",
    registry=REGISTRY,
)
SCORER_WRITE_RETRIES = Counter(
    "solai_scorer_write_retries",
    "Batch writes that failed because the database was unavailable (and were retried)",
    registry=REGISTRY,
)
SIGNAL_LATENCY_MS = Histogram(
    "solai_signal_latency_ms",
    "Milliseconds from the triggering event's chain time to the stored signal",
    buckets=(25, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12800),
    registry=REGISTRY,
)
BUS_BACKLOG = Gauge(
    "solai_bus_backlog",
    "Messages not yet delivered to a group",
    ["stream", "group"],
    registry=REGISTRY,
)
JOB_OUTCOMES = Counter(
    "solai_job_outcomes",
    "Jobs finished, by name and outcome",
    ["job", "outcome"],
    registry=REGISTRY,
)
ALERTS_SENT = Counter(
    "solai_alerts",
    "Alert deliveries by platform and outcome",
    ["platform", "outcome"],
    registry=REGISTRY,
)
ALERT_QUEUE = Gauge("solai_alert_queue_depth", "Alerts waiting to be sent", registry=REGISTRY)
TRADES = Counter("solai_trades", "Trade outcomes", ["outcome"], registry=REGISTRY)
