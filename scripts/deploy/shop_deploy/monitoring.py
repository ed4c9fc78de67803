"""Prometheus and Alertmanager: both Prometheus configs and the alert rules pass promtool, every
alert has a promtool unit test that fires it, the Alertmanager config passes amtool; in a
cluster, the pod discovery gives every scraped pod the labels the compose config gives it, and a
shop pod's metrics stay reachable with an Istio sidecar; the prometheus-operator resources in
k8s/monitoring/ say the same as infra/prometheus/."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import yaml

from .common import Doc, Problems, Rendered, pod_spec, run, service_table, tool_output, where_of

PROMETHEUS = "infra/prometheus"
KUBERNETES_CONFIG = f"{PROMETHEUS}/prometheus-kubernetes.yml"
DEV = "k8s/overlays/dev"
MONITORING = "k8s/monitoring"


def _tool(cmd: list[str], cwd: Path) -> Problems:
    result = run(cmd, cwd=cwd)
    return [] if result.returncode == 0 else [f"{cmd[0]}: {line}" for line in tool_output(result)]


def promtool_problems(root: Path) -> Problems:
    folder = root / PROMETHEUS
    problems = _tool(["promtool", "check", "rules", "alerts.yml"], folder)
    problems += _tool(["promtool", "test", "rules", "alerts.test.yml"], folder)
    problems += _tool(["promtool", "check", "config", "--syntax-only", "prometheus.yml"], folder)
    # Debian's promtool is built without Kubernetes discovery: the cluster config is checked
    # with its discovery replaced by an empty static list (the relabelling is simulated below).
    config = yaml.safe_load((root / KUBERNETES_CONFIG).read_text())
    for job in config.get("scrape_configs", []):
        if job.pop("kubernetes_sd_configs", None) is not None:
            job["static_configs"] = [{"targets": []}]
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "prometheus.yml").write_text(yaml.safe_dump(config))
        problems += [
            p.replace("prometheus.yml", Path(KUBERNETES_CONFIG).name)
            for p in _tool(["promtool", "check", "config", "--syntax-only", "prometheus.yml"],
                           Path(tmp))
        ]  # fmt: skip
    problems += _tool(["amtool", "check-config", "alertmanager.yml"], root / "infra/alertmanager")
    return problems


def untested_alerts(root: Path) -> Problems:
    """Every alert is fired by at least one promtool test."""
    rules = yaml.safe_load((root / PROMETHEUS / "alerts.yml").read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"]}
    tests = yaml.safe_load((root / PROMETHEUS / "alerts.test.yml").read_text())
    fired = {
        case["alertname"]
        for test in tests.get("tests", [])
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    return [f"alerts.test.yml: no test fires {name}" for name in sorted(alerts - fired)]


def relabel(rules: list[Doc], labels: dict[str, str]) -> dict[str, str] | None:
    """Prometheus's relabelling (the replace and keep actions), or None for a dropped target."""
    labels = dict(labels)
    for rule in rules:
        source = rule.get("separator", ";").join(
            labels.get(name, "") for name in rule.get("source_labels", [])
        )
        match = re.fullmatch(rule.get("regex", "(.*)"), source)
        action = rule.get("action", "replace")
        if action == "keep":
            if match is None:
                return None
            continue
        if action == "replace" and match is not None:
            value = match.expand(re.sub(r"\$(\d+)", r"\\g<\1>", rule.get("replacement", "$1")))
            if value:
                labels[rule["target_label"]] = value
            else:
                labels.pop(rule["target_label"], None)
    return labels


def discovered(labels: dict[str, str], annotations: dict[str, str]) -> dict[str, str]:
    """The meta labels Kubernetes discovery gives a pod (one target, its first port)."""
    meta = {
        "__address__": "10.0.0.1",
        "__meta_kubernetes_pod_phase": "Running",
        "__meta_kubernetes_pod_name": "pod-0",
        "job": "kubernetes-pods",
        "__metrics_path__": "/metrics",
    }
    for key, value in labels.items():
        meta["__meta_kubernetes_pod_label_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    for key, value in annotations.items():
        meta["__meta_kubernetes_pod_annotation_" + re.sub(r"[^a-zA-Z0-9_]", "_", key)] = value
    return meta


def discovery_problems(root: Path, rendered: Rendered) -> Problems:
    """In the dev cluster, every shop pod becomes the target compose has (job ferris-shop, its
    app, its admin port); the exporters and RabbitMQ become the jobs the alerts read."""
    config = yaml.safe_load((root / KUBERNETES_CONFIG).read_text())
    jobs = [j for j in config["scrape_configs"] if "kubernetes_sd_configs" in j]
    if not jobs:
        return [f"{KUBERNETES_CONFIG}: no job discovers pods"]
    rules: list[Doc] = jobs[0].get("relabel_configs", [])
    admin = {entry.name: entry.admin for entry in service_table(root)}
    expected_jobs = {"postgres-exporter": "postgres", "redis-exporter": "redis",
                     "rabbitmq": "rabbitmq"}  # fmt: skip
    problems: Problems = []
    for doc in rendered.get(DEV, []):
        pod = pod_spec(doc)
        if pod is None or doc["kind"] == "Job":
            continue
        template: Doc = doc["spec"]["template"]["metadata"]
        labels: dict[str, str] = template.get("labels", {})
        name = labels.get("app.kubernetes.io/name", "")
        target = relabel(rules, discovered(labels, template.get("annotations") or {}))
        where = f"{where_of(DEV, doc)}"
        if name in admin:
            want = {"job": "ferris-shop", "app": name, "__address__": f"10.0.0.1:{admin[name]}"}
        elif name in expected_jobs:
            want = {"job": expected_jobs[name], "app": name}
        else:
            continue
        if target is None:
            problems.append(f"{where}: Prometheus's pod discovery does not scrape it")
            continue
        for key, value in want.items():
            if target.get(key) != value:
                problems.append(
                    f"{where}: discovered with {key}={target.get(key)!r}, not {value!r}"
                )
    return problems


def sidecar_problems(rendered: Rendered, root: Path) -> Problems:
    """A shop pod's admin port bypasses the Istio proxy and Istio does not move its metrics to
    15020, so Prometheus scrapes the same port with or without a sidecar."""
    admin = {entry.name: entry.admin for entry in service_table(root)}
    problems: Problems = []
    for path, docs in rendered.items():
        for doc in docs:
            if doc.get("kind") != "Deployment":
                continue
            template: Doc = doc["spec"]["template"]["metadata"]
            name = template.get("labels", {}).get("app.kubernetes.io/name")
            if name not in admin:
                continue
            annotations: dict[str, Any] = template.get("annotations") or {}
            excluded = str(annotations.get("traffic.sidecar.istio.io/excludeInboundPorts", ""))
            if str(admin[name]) not in excluded.split(","):
                problems.append(
                    f"{where_of(path, doc)}: admin port {admin[name]} is not in"
                    " traffic.sidecar.istio.io/excludeInboundPorts: with a sidecar, Prometheus"
                    " (outside the mesh) could not scrape it"
                )
            if str(annotations.get("prometheus.istio.io/merge-metrics")) != "false":
                problems.append(
                    f'{where_of(path, doc)}: prometheus.istio.io/merge-metrics is not "false":'
                    " with a sidecar, scraping moves to 15020, which the NetworkPolicy closes"
                )
    return problems


def operator_problems(root: Path, rendered: Rendered) -> Problems:
    """k8s/monitoring: the PrometheusRule carries alerts.yml's groups unchanged, and the
    PodMonitor selects the shop's pods by a port they have."""
    docs = rendered.get(MONITORING, [])
    problems: Problems = []
    alerts = yaml.safe_load((root / PROMETHEUS / "alerts.yml").read_text())
    rules = [d for d in docs if d["kind"] == "PrometheusRule"]
    if not rules or rules[0]["spec"].get("groups") != alerts["groups"]:
        problems.append(
            f"{MONITORING}: the PrometheusRule differs from {PROMETHEUS}/alerts.yml"
            " (regenerate it: python3 scripts/deploy/prometheus_rule.py)"
        )
    for monitor in (d for d in docs if d["kind"] == "PodMonitor"):
        ports = {e.get("port") for e in monitor["spec"].get("podMetricsEndpoints", [])}
        selector = monitor["spec"].get("selector", {}).get("matchLabels", {})
        for doc in rendered.get(DEV, []):
            pod = pod_spec(doc)
            labels = doc["spec"]["template"]["metadata"].get("labels", {}) if pod else {}
            if pod is None or any(labels.get(k) != v for k, v in selector.items()):
                continue
            names = {p.get("name") for c in pod.get("containers", []) for p in c.get("ports", [])}
            if not ports & names:
                problems.append(
                    f"{MONITORING}: PodMonitor/{monitor['metadata']['name']} selects"
                    f" {where_of(DEV, doc)}, which has none of the ports {sorted(ports)}"
                )
    return problems


def check_monitoring(root: Path, rendered: Rendered) -> Problems:
    return (
        promtool_problems(root)
        + untested_alerts(root)
        + discovery_problems(root, rendered)
        + sidecar_problems(rendered, root)
        + operator_problems(root, rendered)
    )
