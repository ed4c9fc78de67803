"""Every container hardened: limits, probes, non-root, read-only root filesystem, no privilege
escalation, capabilities dropped, seccomp, pinned image tags. In compose, every container
(infrastructure and tools too) drops its capabilities, cannot escalate and has limits; only the
storefront is published beyond this machine; the tools expose no admin surface (Prometheus's
lifecycle API, a Grafana admin or an anonymous editor); the collector uses current exporter
names and does not print every span."""

from __future__ import annotations

from pathlib import Path

import yaml

from .common import Doc, Problems, Rendered, pod_spec, service_table, where_of
from .compose import compose_env, shop_service_of

# The collector exporters renamed in v0.144; the old names are deprecated aliases.
RENAMED_EXPORTERS = {"otlp": "otlp_grpc", "otlphttp": "otlp_http"}

LONG_RUNNING = ("Deployment", "StatefulSet", "DaemonSet")


def image_problem(image: str) -> str | None:
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" in image:
        return None
    if ":" not in name:
        return f"image {image} has no tag"
    if name.endswith(":latest"):
        return f"image {image} uses :latest"
    return None


def container_problems(where: str, container: Doc, pod: Doc, needs_probes: bool) -> Problems:
    problems: Problems = []
    sc: Doc = container.get("securityContext", {})
    psc: Doc = pod.get("securityContext", {})
    name = f"{where} container {container['name']}"
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        problems.append(f"{name}: runAsNonRoot is not set")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problems.append(f"{name}: capabilities do not drop ALL")
    profile: Doc = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
    seccomp = profile.get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: no RuntimeDefault seccomp profile")
    resources: Doc = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                problems.append(f"{name}: no {kind}.{resource}")
    if issue := image_problem(container.get("image", "")):
        problems.append(f"{name}: {issue}")
    if needs_probes:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in container:
                problems.append(f"{name}: no {probe}")
    return problems


def compose_container_problems(name: str, service: Doc) -> Problems:
    """What every compose container must have, shop or not."""
    where = f"docker-compose.yml: {name}"
    problems: Problems = []
    if service.get("cap_drop") != ["ALL"]:
        problems.append(f"{where}: cap_drop should be ['ALL'] (cap_add what the image needs)")
    if "no-new-privileges:true" not in service.get("security_opt", []):
        problems.append(f"{where}: security_opt lacks no-new-privileges:true")
    limits: Doc = service.get("deploy", {}).get("resources", {}).get("limits", {})
    for resource in ("cpus", "memory"):
        if resource not in limits:
            problems.append(f"{where}: no deploy.resources.limits.{resource}")
    return problems


def published_port_problems(name: str, service: Doc, storefront_port: int | None) -> Problems:
    """Every published port but the storefront's is bound to 127.0.0.1."""
    problems: Problems = []
    for mapping in service.get("ports", []):
        parts = str(mapping).split(":")
        container_port = int(parts[-1].split("/")[0])
        if container_port == storefront_port:
            continue
        if len(parts) < 3 or parts[0] != "127.0.0.1":
            problems.append(
                f"docker-compose.yml: {name}: publishes {container_port} on every interface;"
                f" bind it to 127.0.0.1 (only the storefront is public)"
            )
    return problems


def tool_problems(compose: Doc, root: Path) -> Problems:
    services: dict[str, Doc] = compose.get("services", {})
    problems: Problems = []
    prometheus = services.get("prometheus", {})
    if any("--web.enable-lifecycle" in str(arg) for arg in prometheus.get("command", [])):
        problems.append(
            "docker-compose.yml: prometheus: --web.enable-lifecycle lets anyone stop it over HTTP"
        )
    grafana = compose_env(services.get("grafana", {}))
    if (
        grafana.get("GF_AUTH_ANONYMOUS_ENABLED", "false") == "true"
        and grafana.get("GF_AUTH_ANONYMOUS_ORG_ROLE", "Viewer") != "Viewer"
    ):
        problems.append("docker-compose.yml: grafana: anonymous users are more than Viewer")
    if "GF_SECURITY_ADMIN_PASSWORD" in grafana:
        problems.append(
            "docker-compose.yml: grafana: an admin password in the compose file is everyone's"
        )
    collector = root / "infra/otel-collector/config.yaml"
    config: Doc = yaml.safe_load(collector.read_text()) if collector.exists() else {}
    for exporter in config.get("exporters", {}):
        kind = str(exporter).split("/")[0]
        if kind in RENAMED_EXPORTERS:
            problems.append(
                f"infra/otel-collector/config.yaml: exporter {exporter}: '{kind}' is deprecated,"
                f" use '{RENAMED_EXPORTERS[kind]}'"
            )
    for pipeline, spec in config.get("service", {}).get("pipelines", {}).items():
        if any(str(e).split("/")[0] == "debug" for e in spec.get("exporters", [])):
            problems.append(
                f"infra/otel-collector/config.yaml: pipeline {pipeline} prints to the debug exporter"
            )
    return problems


def check_hardening(rendered: Rendered, compose: Doc, root: Path) -> Problems:
    problems: Problems = []
    # The storefront's port: the gateway's public one, the only port published to all.
    gateway_port = next(s.public for s in service_table(root) if s.name == "gateway")
    for path, docs in rendered.items():
        for doc in docs:
            if doc.get("kind") == "PodDisruptionBudget" and "minAvailable" in doc["spec"]:
                problems.append(
                    f"{where_of(path, doc)}: minAvailable blocks every drain of a single replica;"
                    " use maxUnavailable"
                )
            pod = pod_spec(doc)
            if pod is None:
                continue
            where = where_of(path, doc)
            if pod.get("automountServiceAccountToken") is not False:
                problems.append(f"{where}: automountServiceAccountToken is not false")
            for container in pod.get("containers", []):
                problems += container_problems(where, container, pod, doc["kind"] in LONG_RUNNING)
            for container in pod.get("initContainers", []):
                problems += container_problems(where, container, pod, False)
    for name, service in compose.get("services", {}).items():
        if issue := image_problem(service.get("image", "")):
            problems.append(f"docker-compose.yml: {name}: {issue}")
        problems += compose_container_problems(name, service)
        storefront = gateway_port if shop_service_of(service) == "gateway" else None
        problems += published_port_problems(name, service, storefront)
        if not shop_service_of(service):
            continue
        if service.get("read_only") is not True:
            problems.append(f"docker-compose.yml: {name}: read_only should be True")
        if "seed" not in service.get("command", []) and "healthcheck" not in service:
            problems.append(f"docker-compose.yml: {name}: no healthcheck")
    problems += tool_problems(compose, root)
    return problems
