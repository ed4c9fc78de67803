"""Breaks copies of the repository in known ways and checks that the right stage reports each
breakage, and no other stage fails."""

from __future__ import annotations

import contextlib
import io
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .common import REPO, run
from .validate import validate


@dataclass(frozen=True)
class Breakage:
    """Replace `old` by `new` in `file`; `stage` must report a problem containing `words`."""

    description: str
    file: str
    old: str
    new: str
    stage: str
    words: str


CASES = [
    Breakage("a manifest with a field Kubernetes does not have", "k8s/base/order/deployment.yaml",
             "containerPort: 50053", "containerPort: 50053\n              hostPorts: 50053",
             "k8s-schema", "hostPorts"),
    Breakage("an Istio resource with a misspelt field", "k8s/istio/mesh/ingress.yaml",
             "perTryTimeout: 4s", "perTryTimout: 4s", "istio", 'unknown field "perTryTimout"'),
    Breakage("a compose file with a key compose does not have", "docker-compose.yml",
             "  inventory-seed:\n", "  inventory-seed:\n    restart_policy: always\n", "compose",
             "restart_policy"),
    Breakage("a misspelt setting in a ConfigMap", "k8s/base/order/config.env",
             "SHOP_UPSTREAM__INVENTORY=", "SHOP_UPSTREAM__INVENTROY=", "config", "inventroy"),
    Breakage("a flag the cluster's flag file lacks", "k8s/base/flags/flags.json",
             '"variants": { "on": true, "off": false }', '"variants": { "on": true }', "config",
             "infra/flags/flags.json has"),
    Breakage("the flag file mounted with subPath", "k8s/base/payment/deployment.yaml",
             "              mountPath: /etc/shop/flags\n",
             "              mountPath: /etc/shop/flags/flags.json\n              subPath: flags.json\n",
             "config", "not in a mounted volume"),
    Breakage("a compose upstream on the wrong port", "docker-compose.yml",
             "SHOP_UPSTREAM__PAYMENT: http://payment:50054",
             "SHOP_UPSTREAM__PAYMENT: http://payment:50055", "config", "port 50055"),
    Breakage("a container port that is not the one the service listens on",
             "k8s/base/payment/deployment.yaml", "containerPort: 9084", "containerPort: 9085",
             "config", "port admin is 9085"),
    Breakage("ingress retries on writes", "k8s/istio/mesh/ingress.yaml",
             "      timeout: 15s\n      retries:\n        attempts: 0",
             "      timeout: 15s\n      retries:\n        attempts: 2", "routes",
             "catch-all route"),
    Breakage("mesh retries stacked on the callers'", "k8s/istio/mesh/virtualservices.yaml",
             "      timeout: 3s\n      retries:\n        attempts: 0",
             "      timeout: 3s\n      retries:\n        attempts: 2", "routes", "one layer"),
    Breakage("a mesh timeout the caller outlives", "k8s/istio/mesh/virtualservices.yaml",
             "timeout: 7s", "timeout: 5s", "config", "deadlines.place_order"),
    Breakage("the mesh letting order adjust stock", "k8s/istio/mesh/authorization.yaml",
             "              - /shop.inventory.v1.InventoryService/ReleaseReservation\n",
             "              - /shop.inventory.v1.InventoryService/ReleaseReservation\n"
             "              - /shop.inventory.v1.InventoryService/AdjustStock\n",
             "access", "AdjustStock"),
    Breakage("the mesh refusing the saga its refunds", "k8s/istio/mesh/authorization.yaml",
             "              - /shop.payment.v1.PaymentService/Refund\n", "", "access", "Refund"),
    Breakage("a writable root filesystem", "k8s/components/service-defaults/deployment.yaml",
             "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "hardening",
             "readOnlyRootFilesystem"),
    Breakage("a PDB that blocks drains", "k8s/base/payment/pdb.yaml", "maxUnavailable: 1",
             "minAvailable: 1", "hardening", "minAvailable"),
    Breakage("an image on :latest", "docker-compose.yml", "image: redis:7.4-alpine",
             "image: redis:latest", "hardening", ":latest"),
    Breakage("a tool published on every interface", "docker-compose.yml",
             '"127.0.0.1:9090:9090"', '"9090:9090"', "hardening", "publishes 9090 on every"),
    Breakage("an infrastructure container keeping its capabilities", "docker-compose.yml",
             "  redis:\n    <<: *hardened\n", "  redis:\n", "hardening", "redis: cap_drop"),
    Breakage("a container without limits", "docker-compose.yml",
             "limits: {cpus: \"1\", memory: 512M}\n    image: jaegertracing",
             "{}\n    image: jaegertracing", "hardening", "jaeger: no deploy.resources.limits"),
    Breakage("Prometheus's lifecycle API on", "docker-compose.yml",
             "      - --storage.tsdb.retention.time=2d\n",
             "      - --storage.tsdb.retention.time=2d\n      - --web.enable-lifecycle\n",
             "hardening", "web.enable-lifecycle"),
    Breakage("anonymous Grafana admins", "docker-compose.yml",
             "GF_AUTH_ANONYMOUS_ORG_ROLE: Viewer", "GF_AUTH_ANONYMOUS_ORG_ROLE: Admin",
             "hardening", "more than Viewer"),
    Breakage("every span printed by the collector", "infra/otel-collector/config.yaml",
             "exporters: [otlp_grpc/jaeger]", "exporters: [otlp_grpc/jaeger, debug]",
             "hardening", "debug exporter"),
    Breakage("a deprecated collector exporter name", "infra/otel-collector/config.yaml",
             "  otlp_grpc/jaeger:\n", "  otlp/jaeger:\n", "hardening", "'otlp' is deprecated"),
    Breakage("an alert whose runbook section was renamed", "docs/runbooks.md",
             "## OutboxStuck\n", "## Stuck outbox\n", "telemetry", "OutboxStuck"),
    Breakage("Istio installed without its CNI plugin", "k8s/istio/install/istio.yaml",
             "    cni:\n      enabled: true", "    cni:\n      enabled: false", "pod-security",
             "adds capabilities NET_ADMIN"),
    Breakage("migrations before the proxy is up", "k8s/istio/install/istio.yaml",
             'ENABLE_NATIVE_SIDECARS: "true"', 'ENABLE_NATIVE_SIDECARS: "false"', "pod-security",
             "init container migrate runs before the Istio proxy"),
    Breakage("an alert that fires later than its test says", "infra/prometheus/alerts.yml",
             "expr: max by (app) (outbox_oldest_pending_age_seconds) > 60",
             "expr: max by (app) (outbox_oldest_pending_age_seconds) > 600", "monitoring",
             "OutboxStuck"),
    Breakage("an alert without a test", "infra/prometheus/alerts.test.yml",
             "alertname: SagaBacklog\n        exp_alerts:\n          - exp_labels",
             "alertname: SagaBacklogg\n        exp_alerts:\n          - exp_labels", "monitoring",
             "no test fires SagaBacklog"),
    Breakage("alerts routed to a receiver that does not exist", "infra/alertmanager/alertmanager.yml",
             "  receiver: shop-team\n  group_by", "  receiver: nobody\n  group_by", "monitoring",
             "amtool"),
    Breakage("pods scraped without the app label the alerts use",
             "infra/prometheus/prometheus-kubernetes.yml",
             "__meta_kubernetes_pod_label_app_kubernetes_io_name]\n        target_label: app",
             "__meta_kubernetes_pod_label_app_kubernetes_io_name]\n        target_label: service",
             "monitoring", "discovered with app=None"),
    Breakage("metrics moved behind the sidecar", "k8s/base/inventory/deployment.yaml",
             'traffic.sidecar.istio.io/excludeInboundPorts: "9082"', 'sidecar.istio.io/rewriteAppHTTPProbers: "true"',
             "monitoring", "excludeInboundPorts"),
    Breakage("a workflow with a broken expression", ".github/workflows/ci.yml",
             "${{ github.ref }}", "${{ github.refs }}", "workflow", 'property "refs"'),
    Breakage("the canary header honoured at the edge", "k8s/istio/mesh/ingress.yaml",
             '      headers:\n        request:\n          remove: ["x-canary"]\n      match:',
             '      match:\n        - headers:\n            x-canary:\n              exact: always', "routes",
             "x-canary"),
    Breakage("prod's traces sent to a collector prod does not run", "k8s/overlays/prod/telemetry.yaml",
             "http://otel-collector.observability.svc.cluster.local:4317",
             "http://otel-collector:4317", "config", "does not deploy"),
    Breakage("the prod canary on the laptop's image", "k8s/overlays/prod/canary/kustomization.yaml",
             "    newName: registry.example.com/ferris-shop/gateway\n", "", "config",
             "has no registry"),
    Breakage("a dashboard on a metric nobody exports", "scripts/deploy/dashboards.py",
             '"sum(rate(orders_placed_total[1m]))"', '"sum(rate(orders_shipped_total[1m]))"',
             "telemetry", "orders_shipped_total"),
]  # fmt: skip

COPIED = [
    "docker-compose.yml", "Dockerfile", ".dockerignore", "services.toml", "infra", "k8s", "proto",
    "libs", "services", "scripts/deploy", "Cargo.toml", "docs/runbooks.md", ".github",
]  # fmt: skip


def copy_repo(target: Path) -> None:
    for name in COPIED:
        source, dest = REPO / name, target / name
        if source.is_dir():
            shutil.copytree(
                source, dest, ignore=shutil.ignore_patterns("node_modules", "target", "__pycache__")
            )
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def check(case: Breakage, bin_dir: Path, node_dir: Path) -> bool:
    """Applies one breakage to a fresh copy; True when exactly its stage caught it."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        copy_repo(root)
        path = root / case.file
        text = path.read_text()
        if case.old not in text:
            print(f"self-test: cannot apply '{case.description}': '{case.old}' not in {case.file}")
            return False
        path.write_text(text.replace(case.old, case.new, 1))
        if case.file.endswith("dashboards.py"):
            run([sys.executable, str(path)])
        with contextlib.redirect_stdout(io.StringIO()):
            report = validate(root, bin_dir, node_dir, with_postgres=False)
    messages = report.failures.get(case.stage, [])
    caught = any(case.words.lower() in message.lower() for message in messages)
    others = sorted(set(report.failures) - {case.stage})
    status = "caught" if caught and not others else "MISSED"
    also = f" (also failed: {', '.join(others)})" if others else ""
    print(f"self-test: {case.description}: {status} by {case.stage}{also}")
    if not caught:
        for message in messages or ["(no message)"]:
            print(f"      {message}")
    return caught and not others


def self_test(bin_dir: Path, node_dir: Path) -> int:
    passed = sum(check(case, bin_dir, node_dir) for case in CASES)
    print(f"self-test: {passed}/{len(CASES)} breakages caught")
    return 0 if passed == len(CASES) else 1
