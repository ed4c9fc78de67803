"""Every container hardened: limits, probes, non-root, read-only root filesystem, no privilege
escalation, capabilities dropped, seccomp, pinned image tags."""

from __future__ import annotations

from .common import Doc, Problems, Rendered, pod_spec, where_of
from .compose import shop_service_of

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


def check_hardening(rendered: Rendered, compose: Doc) -> Problems:
    problems: Problems = []
    for path, docs in rendered.items():
        for doc in docs:
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
        if not shop_service_of(service):
            continue
        for key, wanted in (("read_only", True), ("cap_drop", ["ALL"])):
            if service.get(key) != wanted:
                problems.append(f"docker-compose.yml: {name}: {key} should be {wanted}")
        if "seed" not in service.get("command", []) and "healthcheck" not in service:
            problems.append(f"docker-compose.yml: {name}: no healthcheck")
    return problems
