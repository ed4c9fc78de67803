#!/usr/bin/env python3
"""Writes the Grafana dashboards in infra/grafana/dashboards/ from the definitions below.

Dashboards are JSON that nobody reviews by eye; this file is what people read and change.
`--check` fails when the committed JSON differs from what this script produces
(scripts/validate-deploy.sh runs it), so the two never drift apart.

    python3 scripts/deploy/dashboards.py          # regenerate
    python3 scripts/deploy/dashboards.py --check  # verify
"""

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# A dashboard, panel or target: JSON as Grafana reads it.
Json = dict[str, Any]

OUT = Path(__file__).resolve().parents[2] / "infra" / "grafana" / "dashboards"
PROMETHEUS = {"type": "prometheus", "uid": "prometheus"}
BACKENDS = ["user", "inventory", "order", "payment"]
SERVER_ERRORS = "Internal|Unknown|DataLoss|Unavailable"


def panel(
    title: str,
    exprs: list[tuple[str, str]],
    unit: str = "short",
    width: int = 12,
    kind: str = "timeseries",
    description: str = "",
) -> Json:
    """One panel; `exprs` is a list of (PromQL, legend)."""
    targets = [
        {"datasource": PROMETHEUS, "expr": expr, "legendFormat": legend, "refId": chr(65 + i)}
        for i, (expr, legend) in enumerate(exprs)
    ]
    result: Json = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": PROMETHEUS,
        "targets": targets,
        "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True}},
        "_width": width,
    }
    if kind == "stat":
        result["options"] = {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False}
        }
    return result


def row(title: str) -> Json:
    return {"type": "row", "title": title, "collapsed": False, "panels": [], "_width": 24}


def layout(panels: list[Json]) -> list[Json]:
    """Places panels left to right, 8 units high, wrapping at Grafana's 24 columns."""
    x = y = 0
    placed: list[Json] = []
    for pid, p in enumerate(panels, start=1):
        width = p.pop("_width")
        height = 1 if p["type"] == "row" else 8
        if x + width > 24 or p["type"] == "row":
            if x:
                y += 8
            x = 0
        p["id"] = pid
        p["gridPos"] = {"h": height, "w": width, "x": x, "y": y}
        placed.append(p)
        x += width
        if p["type"] == "row":
            y += 1
            x = 0
    return placed


def dashboard(uid: str, title: str, description: str, panels: list[Json]) -> Json:
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["ferris-shop"],
        "timezone": "browser",
        "editable": False,
        "schemaVersion": 39,
        "version": 1,
        "refresh": "10s",
        "time": {"from": "now-30m", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "links": [
            {
                "title": "Ferris Shop",
                "type": "dashboards",
                "tags": ["ferris-shop"],
                "asDropdown": True,
            }
        ],
        "panels": layout(panels),
    }


def rpc_panels(app: str) -> list[Json]:
    sel = f'app="{app}"'
    return [
        row("gRPC (RED)"),
        panel(
            "Requests / s by method",
            [(f"sum by (method) (rate(rpc_server_requests_total{{{sel}}}[1m]))", "{{method}}")],
            unit="reqps",
            width=8,
        ),
        panel(
            "Errors / s by method and code",
            [
                (
                    f'sum by (method, code) (rate(rpc_server_requests_total{{{sel}, code!="Ok"}}[1m]))',
                    "{{method}} {{code}}",
                )
            ],
            unit="reqps",
            width=8,
            description="Client mistakes (InvalidArgument, NotFound, ...) included; server faults are "
            + SERVER_ERRORS,
        ),
        panel(
            "Latency p50 / p99 by method",
            [
                (
                    f"histogram_quantile(0.5, sum by (le, method) "
                    f"(rate(rpc_server_duration_seconds_bucket{{{sel}}}[1m])))",
                    "p50 {{method}}",
                ),
                (
                    f"histogram_quantile(0.99, sum by (le, method) "
                    f"(rate(rpc_server_duration_seconds_bucket{{{sel}}}[1m])))",
                    "p99 {{method}}",
                ),
            ],
            unit="s",
            width=8,
        ),
    ]


def messaging_panels(app: str, publishes: bool = True) -> list[Json]:
    sel = f'app="{app}"'
    panels = [
        row("Events"),
        panel(
            "Consumed / s by outcome",
            [
                (
                    f"sum by (event_type, outcome) (rate(messaging_consumed_total{{{sel}}}[1m]))",
                    "{{event_type}} {{outcome}}",
                )
            ],
            unit="ops",
            width=8,
        ),
        panel(
            "Handler latency p99",
            [
                (
                    f"histogram_quantile(0.99, sum by (le, event_type) "
                    f"(rate(messaging_handler_duration_seconds_bucket{{{sel}}}[1m])))",
                    "{{event_type}}",
                )
            ],
            unit="s",
            width=8,
        ),
    ]
    if publishes:
        panels.append(
            panel(
                "Outbox backlog and oldest pending age",
                [
                    (f"max(outbox_backlog{{{sel}}})", "backlog"),
                    (f"max(outbox_oldest_pending_age_seconds{{{sel}}})", "oldest pending (s)"),
                ],
                width=8,
            )
        )
    return panels


def gateway() -> Json:
    sel = 'app="gateway"'
    return dashboard(
        "ferris-gateway",
        "Ferris Shop / gateway",
        "The public edge: REST API, rate limits, upstream resilience, catalog cache.",
        [
            row("HTTP (RED)"),
            panel(
                "Requests / s by route",
                [
                    (
                        f"sum by (method, route) (rate(http_server_requests_total{{{sel}}}[1m]))",
                        "{{method}} {{route}}",
                    )
                ],
                unit="reqps",
                width=8,
            ),
            panel(
                "Responses / s by status",
                [
                    (
                        f"sum by (status) (rate(http_server_requests_total{{{sel}}}[1m]))",
                        "{{status}}",
                    )
                ],
                unit="reqps",
                width=8,
            ),
            panel(
                "Latency p50 / p99 by route",
                [
                    (
                        f"histogram_quantile(0.5, sum by (le, route) "
                        f"(rate(http_server_duration_seconds_bucket{{{sel}}}[1m])))",
                        "p50 {{route}}",
                    ),
                    (
                        f"histogram_quantile(0.99, sum by (le, route) "
                        f"(rate(http_server_duration_seconds_bucket{{{sel}}}[1m])))",
                        "p99 {{route}}",
                    ),
                ],
                unit="s",
                width=8,
            ),
            row("Protection"),
            panel(
                "Rate-limited requests / s by bucket",
                [
                    ("sum by (bucket) (rate(gateway_rate_limited_total[1m]))", "{{bucket}}"),
                    ("sum(rate(gateway_rate_limit_errors_total[1m]))", "limiter errors (Redis)"),
                ],
                unit="reqps",
                width=8,
            ),
            panel(
                "Upstream retries and breaker rejections / s",
                [
                    (
                        "sum by (upstream) (rate(gateway_upstream_retries_total[1m]))",
                        "retry {{upstream}}",
                    ),
                    (
                        "sum by (upstream) (rate(gateway_upstream_rejected_total[1m]))",
                        "open breaker {{upstream}}",
                    ),
                ],
                unit="ops",
                width=8,
            ),
            panel(
                "Catalog cache hit ratio",
                [
                    (
                        'sum(rate(gateway_catalog_cache_requests_total{result="hit"}[5m])) '
                        "/ sum(rate(gateway_catalog_cache_requests_total[5m]))",
                        "hit ratio",
                    )
                ],
                unit="percentunit",
                width=8,
            ),
            panel(
                "Token verifications / s by outcome",
                [
                    (
                        f"sum by (outcome) (rate(auth_token_verifications_total{{{sel}}}[1m]))",
                        "{{outcome}}",
                    )
                ],
                unit="ops",
                width=12,
            ),
            panel(
                "Dashboard answers degraded / s",
                [("sum(rate(gateway_dashboard_degraded_total[1m]))", "degraded")],
                unit="ops",
                width=12,
                description="GET /api/v1/dashboard answered with a part missing because an upstream failed.",
            ),
        ]
        + messaging_panels("gateway", publishes=False),
    )


def user() -> Json:
    return dashboard(
        "ferris-user",
        "Ferris Shop / user",
        "Accounts, logins, tokens and signing keys.",
        rpc_panels("user")
        + [
            row("Accounts"),
            panel(
                "Logins / s by outcome",
                [("sum by (outcome) (rate(users_logins_total[1m]))", "{{outcome}}")],
                unit="ops",
                width=8,
            ),
            panel(
                "Refreshes / s by outcome",
                [("sum by (outcome) (rate(users_refreshes_total[1m]))", "{{outcome}}")],
                unit="ops",
                width=8,
                description="reuse_detected means a stolen refresh token was replayed; the session is revoked.",
            ),
            panel(
                "Registrations and logouts / s",
                [
                    ("sum(rate(users_registered_total[1m]))", "registered"),
                    ("sum(rate(users_logouts_total[1m]))", "logged out"),
                ],
                unit="ops",
                width=8,
            ),
        ]
        + messaging_panels("user"),
    )


def inventory() -> Json:
    return dashboard(
        "ferris-inventory",
        "Ferris Shop / inventory",
        "Catalog, stock and reservations.",
        rpc_panels("inventory")
        + [
            row("Stock"),
            panel(
                "Reservations / s by outcome",
                [("sum by (outcome) (rate(inventory_reservations_total[1m]))", "{{outcome}}")],
                unit="ops",
                width=8,
            ),
            panel(
                "Reservations expired / s",
                [("sum(rate(inventory_reservations_expired_total[1m]))", "expired")],
                unit="ops",
                width=8,
                description="Held stock released by the expiry worker because no saga confirmed or released it.",
            ),
            panel(
                "Catalog cache hit ratio (Redis)",
                [
                    (
                        'sum(rate(inventory_cache_requests_total{result="hit"}[5m])) '
                        "/ sum(rate(inventory_cache_requests_total[5m]))",
                        "hit ratio",
                    )
                ],
                unit="percentunit",
                width=8,
            ),
        ]
        + messaging_panels("inventory"),
    )


def order() -> Json:
    return dashboard(
        "ferris-order",
        "Ferris Shop / order",
        "Orders and the place-order saga.",
        rpc_panels("order")
        + [
            row("Orders"),
            panel(
                "Orders placed and cancelled / s",
                [
                    ("sum(rate(orders_placed_total[1m]))", "placed"),
                    ("sum(rate(orders_cancelled_total[1m]))", "cancelled"),
                ],
                unit="ops",
                width=12,
            ),
            panel(
                "Saga outcomes / s",
                [
                    (
                        "sum by (status, reason) (rate(orders_saga_outcomes_total[1m]))",
                        "{{status}} {{reason}}",
                    )
                ],
                unit="ops",
                width=12,
            ),
        ]
        + messaging_panels("order"),
    )


def payment() -> Json:
    return dashboard(
        "ferris-payment",
        "Ferris Shop / payment",
        "Charges, refunds and the card processor.",
        rpc_panels("payment")
        + [
            row("Payments"),
            panel(
                "Charges / s by status",
                [("sum by (status) (rate(payments_charges_total[1m]))", "{{status}}")],
                unit="ops",
                width=8,
            ),
            panel(
                "Refunds / s",
                [("sum(rate(payments_refunds_total[1m]))", "refunds")],
                unit="ops",
                width=8,
            ),
            panel(
                "Processor calls / s by result",
                [
                    (
                        "sum by (operation, result) (rate(payment_provider_calls_total[1m]))",
                        "{{operation}} {{result}}",
                    )
                ],
                unit="ops",
                width=8,
            ),
        ]
        + messaging_panels("payment"),
    )


def saga_and_outbox() -> Json:
    return dashboard(
        "ferris-saga-outbox",
        "Ferris Shop / saga and outbox",
        "The place-order saga end to end, and every service's outbox and consumers.",
        [
            row("Saga"),
            panel(
                "Outcomes / s",
                [
                    (
                        "sum by (status, reason) (rate(orders_saga_outcomes_total[1m]))",
                        "{{status}} {{reason}}",
                    )
                ],
                unit="ops",
                width=8,
            ),
            panel(
                "Duration p50 / p99 by final status",
                [
                    (
                        "histogram_quantile(0.5, sum by (le, status) "
                        "(rate(orders_saga_duration_seconds_bucket[5m])))",
                        "p50 {{status}}",
                    ),
                    (
                        "histogram_quantile(0.99, sum by (le, status) "
                        "(rate(orders_saga_duration_seconds_bucket[5m])))",
                        "p99 {{status}}",
                    ),
                ],
                unit="s",
                width=8,
            ),
            panel(
                "Step retries and crash recoveries / s",
                [
                    ("sum(rate(orders_saga_step_retries_total[1m]))", "step retries"),
                    ("sum(rate(orders_saga_recoveries_total[1m]))", "recoveries"),
                ],
                unit="ops",
                width=8,
            ),
            row("Outbox"),
            panel("Backlog by service", [("max by (app) (outbox_backlog)", "{{app}}")], width=8),
            panel(
                "Oldest pending event age by service",
                [("max by (app) (outbox_oldest_pending_age_seconds)", "{{app}}")],
                unit="s",
                width=8,
            ),
            panel(
                "Commit -> publish lag p99",
                [
                    (
                        "histogram_quantile(0.99, sum by (le, app) (rate(outbox_publish_lag_seconds_bucket[5m])))",
                        "{{app}}",
                    )
                ],
                unit="s",
                width=8,
            ),
            panel(
                "Appended, published and failed publishes / s",
                [
                    ("sum by (app) (rate(outbox_appended_total[1m]))", "appended {{app}}"),
                    ("sum by (app) (rate(outbox_published_total[1m]))", "published {{app}}"),
                    ("sum by (app) (rate(outbox_publish_failures_total[1m]))", "failed {{app}}"),
                ],
                unit="ops",
                width=12,
            ),
            row("Consumers"),
            panel(
                "Consumed / s by queue and outcome",
                [
                    (
                        "sum by (queue, outcome) (rate(messaging_consumed_total[1m]))",
                        "{{queue}} {{outcome}}",
                    )
                ],
                unit="ops",
                width=12,
            ),
        ],
    )


def overview() -> Json:
    return dashboard(
        "ferris-overview",
        "Ferris Shop / overview",
        "Is the shop up, is it fast, are orders going through.",
        [
            panel("Services up", [('sum(up{job="ferris-shop"})', "up")], kind="stat", width=6),
            panel(
                "API requests / s",
                [('sum(rate(http_server_requests_total{app="gateway"}[1m]))', "req/s")],
                unit="reqps",
                kind="stat",
                width=6,
            ),
            panel(
                "API 5xx ratio",
                [
                    (
                        'sum(rate(http_server_requests_total{app="gateway", status=~"5.."}[5m])) '
                        '/ sum(rate(http_server_requests_total{app="gateway"}[5m]))',
                        "5xx",
                    )
                ],
                unit="percentunit",
                kind="stat",
                width=6,
            ),
            panel(
                "Confirmed orders (1h)",
                [
                    (
                        'sum(increase(orders_saga_outcomes_total{status="CONFIRMED"}[1h]))',
                        "confirmed",
                    )
                ],
                kind="stat",
                width=6,
            ),
            panel(
                "gRPC requests / s by service",
                [("sum by (app) (rate(rpc_server_requests_total[1m]))", "{{app}}")],
                unit="reqps",
                width=12,
            ),
            panel(
                "gRPC p99 by service",
                [
                    (
                        "histogram_quantile(0.99, sum by (le, app) (rate(rpc_server_duration_seconds_bucket[1m])))",
                        "{{app}}",
                    )
                ],
                unit="s",
                width=12,
            ),
        ],
    )


DASHBOARDS: dict[str, Callable[[], Json]] = {
    "ferris-shop-overview.json": overview,
    "gateway.json": gateway,
    "user.json": user,
    "inventory.json": inventory,
    "order.json": order,
    "payment.json": payment,
    "saga-outbox.json": saga_and_outbox,
}


def render(build: Callable[[], Json]) -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale: list[str] = []
    for name, build in DASHBOARDS.items():
        path = OUT / name
        text = render(build)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    extra = (
        sorted(p.name for p in OUT.glob("*.json") if p.name not in DASHBOARDS)
        if OUT.exists()
        else []
    )
    if check and (stale or extra):
        for stale_path in stale:
            print(f"stale dashboard: {stale_path}", file=sys.stderr)
        for name in extra:
            print(f"dashboard not produced by {__file__}: {name}", file=sys.stderr)
        print("run: python3 scripts/deploy/dashboards.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
