"""Dashboards generated from scripts/deploy/dashboards.py, every metric the dashboards and the
alert rules use exported by the code (or by an exporter Prometheus scrapes), and every alert linked to its runbook: a `runbook_url`
into docs/runbooks.md (on the repository Cargo.toml names) whose section names the alert."""

from __future__ import annotations

import json
import re
import sys
import tomllib
from pathlib import Path

import yaml

from .common import Problems, run, tool_output

PROMQL_WORDS = frozenset(
    {
        "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
        "unless", "offset", "le", "inf", "nan",
    }
)  # fmt: skip


# Metrics of the data stores' exporters, by name prefix, and the scrape job that must collect
# them (infra/prometheus/prometheus.yml).
EXPORTER_PREFIXES = {"pg_": "postgres", "redis_": "redis", "rabbitmq_": "rabbitmq"}


def exporter_metric(root: Path, metric: str) -> bool:
    """A metric one of the exporters Prometheus scrapes in compose provides."""
    config = yaml.safe_load((root / "infra/prometheus/prometheus.yml").read_text())
    jobs = {job["job_name"] for job in config.get("scrape_configs", [])}
    return any(metric.startswith(p) and job in jobs for p, job in EXPORTER_PREFIXES.items())


def code_metric_names(root: Path) -> set[str]:
    names: set[str] = set()
    for source in [*(root / "libs").rglob("*.rs"), *(root / "services").rglob("*.rs")]:
        names.update(
            re.findall(r'"([a-z][a-z0-9_]*_(?:total|seconds|backlog|up))"', source.read_text())
        )
    return names


def promql_metrics(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    return {
        word
        for match in re.finditer(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()", expr)
        if (word := match.group(1)) not in PROMQL_WORDS and not re.fullmatch(r"\d.*", word)
    }


def heading_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def runbook_problems(root: Path, alerts: list[dict[str, object]]) -> Problems:
    """Each alert's runbook_url leads to the section of docs/runbooks.md that names it."""
    repository = tomllib.loads((root / "Cargo.toml").read_text())["workspace"]["package"][
        "repository"
    ]
    prefix = f"{repository}/blob/main/docs/runbooks.md#"
    sections = {
        heading_anchor(line[3:]): line[3:]
        for line in (root / "docs/runbooks.md").read_text().splitlines()
        if line.startswith("## ")
    }
    problems: Problems = []
    for rule in alerts:
        name = str(rule.get("alert"))
        annotations = rule.get("annotations")
        url = str(annotations.get("runbook_url", "")) if isinstance(annotations, dict) else ""
        if not url.startswith(prefix):
            problems.append(f"alerts.yml: {name} has no runbook_url starting {prefix}")
            continue
        section = sections.get(url.removeprefix(prefix))
        if section is None:
            problems.append(f"alerts.yml: {name}: {url} is no section of docs/runbooks.md")
        elif not re.search(rf"\b{re.escape(name)}\b", section):
            problems.append(f"alerts.yml: {name}: its runbook section '{section}' does not name it")
    return problems


def check_telemetry(root: Path) -> Problems:
    problems: Problems = []
    result = run([sys.executable, str(root / "scripts/deploy/dashboards.py"), "--check"])
    if result.returncode != 0:
        problems += tool_output(result)
    exprs: list[tuple[str, str]] = []
    for file in (root / "infra/grafana/dashboards").glob("*.json"):
        for panel in json.loads(file.read_text()).get("panels", []):
            exprs += [(file.name, target["expr"]) for target in panel.get("targets", [])]
    alerts = yaml.safe_load((root / "infra/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            for key in ("alert", "expr"):
                if key not in rule:
                    problems.append(f"alerts.yml: a rule in {group['name']} has no {key}")
            exprs.append((f"alerts.yml {rule.get('alert')}", rule.get("expr", "")))
            if "summary" not in rule.get("annotations", {}) or "severity" not in rule.get(
                "labels", {}
            ):
                problems.append(
                    f"alerts.yml: {rule.get('alert')} needs a severity label and a summary"
                )
    problems += runbook_problems(root, [r for g in alerts["groups"] for r in g["rules"]])
    exported = code_metric_names(root) | {"up"}
    for where, expr in exprs:
        for metric in promql_metrics(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            if (
                metric not in exported
                and base not in exported
                and not exporter_metric(root, metric)
            ):
                problems.append(f"{where}: metric {metric} is not exported by any service")
    return problems
