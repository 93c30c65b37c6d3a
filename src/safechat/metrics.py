"""Prometheus metrics, one registry per app (no global registry: tests run many apps)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.registry import Collector

CONTENT_TYPE = CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class WebhookCounts(Protocol):
    delivered: int
    retried: int
    failed: int
    pending_now: int
    failed_now: int


class _WebhookCollector(Collector):
    def __init__(self, stats: Callable[[], WebhookCounts]) -> None:
        self._stats = stats

    def collect(self) -> Iterable[Metric]:
        now = self._stats()
        outcomes = CounterMetricFamily(
            "safechat_webhook_deliveries",
            "Webhook delivery attempts by this node, by outcome",
            labels=["outcome"],
        )
        outcomes.add_metric(["delivered"], now.delivered)
        outcomes.add_metric(["retried"], now.retried)
        outcomes.add_metric(["failed"], now.failed)
        yield outcomes
        outbox = GaugeMetricFamily(
            "safechat_webhook_outbox", "Webhook outbox entries by state", labels=["state"]
        )
        outbox.add_metric(["pending"], now.pending_now)
        outbox.add_metric(["failed"], now.failed_now)
        yield outbox


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.connections = Gauge(
            "safechat_connections", "Live Socket.IO connections on this node", registry=r
        )
        self.events = Counter(
            "safechat_events_total",
            "Socket.IO events handled, by name and outcome (ok or the error code)",
            ["event", "outcome"],
            registry=r,
        )
        self.send_latency = Histogram(
            "safechat_message_send_seconds",
            "send_message from receipt to ack (the write is durable before the ack)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.fanout = Counter(
            "safechat_fanout_deliveries_total",
            "Packets delivered to sockets of this node by broadcasts",
            registry=r,
        )
        self.rate_limited = Counter(
            "safechat_rate_limited_total", "Requests refused by a rate limit", ["limit"], registry=r
        )
        self.http_requests = Counter(
            "safechat_http_requests_total", "REST requests by status", ["status"], registry=r
        )
        self.redis_up = Gauge(
            "safechat_redis_up", "1 when Redis answers, 0 when it is away (multi-node)", registry=r
        )

    def track_webhooks(self, stats: Callable[[], WebhookCounts]) -> None:
        """Notification webhooks (docs/webhooks.md): outcomes on this node, and the
        outbox's pending and failed entries (shared by the nodes)."""
        self.registry.register(_WebhookCollector(stats))

    def track_connections(self, count: Callable[[], int]) -> None:
        self.connections.set_function(lambda: float(count()))

    def track_redis(self, available: Callable[[], bool]) -> None:
        self.redis_up.set_function(lambda: 1.0 if available() else 0.0)

    def event(self, name: str, outcome: str) -> None:
        self.events.labels(name, outcome).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
