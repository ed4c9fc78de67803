"""Runs every stage over one copy of the repository."""

from __future__ import annotations

from pathlib import Path

import yaml

from .access import check_access
from .binaries import Binaries
from .common import Report
from .compose import check_compose_config
from .hardening import check_hardening
from .k8s_config import check_k8s_config
from .monitoring import check_monitoring
from .postgres import check_postgres_init
from .pss import check_pod_security
from .routes import check_routes
from .telemetry import check_telemetry
from .tools import (
    check_compose_schema,
    check_dockerfile,
    check_istio,
    check_k8s_schema,
    check_workflows,
    check_yaml,
    render,
)


def validate(root: Path, bin_dir: Path, node_dir: Path, with_postgres: bool = True) -> Report:
    report = Report()
    print(f"validating deployment files in {root}", flush=True)
    report.stage("yaml", check_yaml(root))
    report.stage("compose", check_compose_schema(root))
    report.stage("dockerfile", check_dockerfile(root))
    rendered, render_problems = render(root)
    report.stage("kustomize", render_problems)
    report.stage("k8s-schema", check_k8s_schema(rendered))
    report.stage("istio", check_istio(rendered, node_dir))
    compose = yaml.safe_load((root / "docker-compose.yml").read_text())
    report.stage("hardening", check_hardening(rendered, compose, root))
    report.stage("pod-security", check_pod_security(rendered, root))
    report.stage("routes", check_routes(rendered, root))
    binaries = Binaries(bin_dir)
    report.stage("access", check_access(rendered, binaries))
    report.stage(
        "config",
        check_compose_config(compose, root, binaries) + check_k8s_config(rendered, root, binaries),
    )
    if with_postgres:
        report.stage("postgres", check_postgres_init(root, compose, binaries))
    report.stage("telemetry", check_telemetry(root))
    report.stage("monitoring", check_monitoring(root, rendered))
    report.stage("workflow", check_workflows(root, node_dir))
    return report
