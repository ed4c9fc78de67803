"""Kubernetes and Istio: each shop container's environment (ConfigMaps, Secrets, env) parsed by
its binary, and its ports, probes, upstreams, Services, subsets, authorization ports and mTLS
ports agreeing with what the binary listens on; the collector each one sends traces to deployed
or named in full; production images from a registry."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .binaries import Binaries
from .common import (
    Doc,
    Problems,
    Rendered,
    env_problems,
    pod_spec,
    port_of,
    public_port,
    shop_binary_of_image,
    where_of,
)
from .databases import check_database_url, database_roles

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass(frozen=True)
class Workload:
    """A shop service's main container in a Deployment, as rendered and as its binary reads it."""

    ports: dict[str, int]  # container port name -> number
    settings: Doc
    labels: dict[str, str]
    env: dict[str, str]
    where: str

    def has_port(self, port: int | str) -> bool:
        return port in self.ports or port in self.ports.values()


def secret_values(doc: Doc) -> dict[str, str]:
    data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    data.update(doc.get("stringData") or {})
    return data


def example_secrets(root: Path) -> dict[str, dict[str, str]]:
    """Secrets an operator creates from k8s/**/secrets.example/<service>.env."""
    found: dict[str, dict[str, str]] = {}
    for file in (root / "k8s").rglob("secrets.example/*.env"):
        values: dict[str, str] = {}
        for line in file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
        found[f"{file.stem}-secrets"] = values
    return found


def k8s_env(
    container: Doc,
    configmaps: dict[str, dict[str, str]],
    secrets: dict[str, dict[str, str]],
    where: str,
) -> tuple[dict[str, str], Problems]:
    """The environment a container gets, and the ConfigMaps and Secrets it misses."""
    env: dict[str, str] = {}
    problems: Problems = []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in configmaps:
                problems.append(f"{where}: ConfigMap {name} is not rendered")
            env.update(configmaps.get(name, {}))
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            if name not in secrets:
                problems.append(
                    f"{where}: Secret {name} is neither generated nor in a secrets.example/"
                )
            env.update(secrets.get(name, {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets.get(ref["name"], {}).get(ref["key"], "")
        elif "fieldRef" in var.get("valueFrom", {}):
            # The downward API (the pod's name, say): filled in by the kubelet, so checked with
            # a stand-in of the same shape.
            path = var["valueFrom"]["fieldRef"]["fieldPath"]
            env[var["name"]] = "pod-5d8c7b9f4-x2k4p" if path == "metadata.name" else path
    return env, problems


class _Cluster:
    """What every rendering creates: the Istio variations refer to what the overlays create."""

    def __init__(self, rendered: Rendered, root: Path) -> None:
        self.services: dict[str, Doc] = {}
        self.configmaps: dict[str, dict[str, str]] = {}
        self.secrets: dict[str, dict[str, str]] = example_secrets(root)
        for docs in rendered.values():
            for doc in docs:
                name = doc["metadata"]["name"]
                if doc["kind"] == "Service":
                    self.services[name] = doc
                if doc["kind"] == "ConfigMap":
                    self.configmaps[name] = doc.get("data", {})
                if doc["kind"] == "Secret":
                    # Generated Secrets carry a content hash; references use either name.
                    self.secrets[re.sub(r"-[a-z0-9]{10}$", "", name)] = secret_values(doc)
                    self.secrets[name] = secret_values(doc)

    def service_port(self, host: str, port: int | None) -> Doc | None:
        """The port entry of the Service `host` names (`order`, `order.shop.svc`), if any."""
        service = self.services.get(host.split(".")[0])
        if service is None:
            return None
        for entry in service["spec"]["ports"]:
            if entry["port"] == port:
                found: Doc = entry
                return found
        return None


def _collector_problems(
    where: str, path: str, env: dict[str, str], local: set[str], cluster: _Cluster
) -> Problems:
    """The collector a container sends traces to exists: a short name must be a Service of the
    same rendering (an overlay deploys everything it names; an Istio variation is applied on top
    of an overlay, so any overlay's Service will do), a qualified name is the operator's."""
    endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    if not endpoint:
        return []
    host = urlsplit(endpoint).hostname or ""
    if "." in host:
        return []
    known = local if path.startswith("k8s/overlays/") else set(cluster.services)
    if host in known:
        return []
    return [
        f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT names {host}, which {path} does not deploy;"
        " point it at your collector"
    ]


def _registry_problems(rendered: Rendered) -> Problems:
    """Production pulls every shop image from a registry: a bare ferris-shop/<service> image
    exists only where `docker compose build` made it (a dev cluster)."""
    return [
        f"{where_of(path, doc)} container {c['name']}: image {c['image']} has no registry"
        for path, docs in rendered.items()
        if path.startswith("k8s/overlays/prod")
        for doc in docs
        if (pod := pod_spec(doc)) is not None
        for c in pod.get("initContainers", []) + pod.get("containers", [])
        if str(c.get("image", "")).startswith("ferris-shop/")
    ]


def _container_problems(
    where: str, binary: str, container: Doc, settings: Doc
) -> tuple[dict[str, int], Problems]:
    problems: Problems = []
    ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
    public_name = "grpc" if "grpc" in settings else "http"
    if ports.get(public_name) != public_port(settings):
        problems.append(
            f"{where}: port {public_name} is {ports.get(public_name)}, "
            f"shop-{binary} listens on {public_port(settings)}"
        )
    admin = port_of(settings["admin"]["addr"])
    if ports.get("admin") != admin:
        problems.append(
            f"{where}: port admin is {ports.get('admin')}, shop-{binary} serves admin on {admin}"
        )
    for probe in PROBES:
        port = container.get(probe, {}).get("httpGet", {}).get("port")
        if port is not None and port not in ports and port not in ports.values():
            problems.append(f"{where}: {probe} uses port {port}, which the container does not have")
    return ports, problems


def _workloads(
    rendered: Rendered, root: Path, cluster: _Cluster, binaries: Binaries
) -> tuple[dict[str, list[Workload]], Problems]:
    """Every shop container's environment checked by its binary; the main containers of the
    Deployments, by service."""
    problems: Problems = []
    roles = database_roles(root)
    workloads: dict[str, list[Workload]] = {}
    for path, docs in rendered.items():
        configmaps = {
            d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"
        }
        # A rendering that is not a whole shop (the gateway canary) is applied on top of an
        # overlay and mounts the ConfigMaps it made (stable names such as shop-flags).
        whole_shop = any(
            d["kind"] == "Deployment" and d["metadata"]["name"] == "user" for d in docs
        )
        mountable = configmaps if whole_shop else {**cluster.configmaps, **configmaps}
        local_services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
        for doc in docs:
            pod = pod_spec(doc)
            if pod is None:
                continue
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                binary = shop_binary_of_image(container.get("image", ""))
                if binary is None:
                    continue
                where = f"{where_of(path, doc)} container {container['name']}"
                env, env_issues = k8s_env(container, configmaps, cluster.secrets, where)
                problems += env_issues + env_problems(where, env)
                parsed = binaries.settings(binary, env)
                if parsed.settings is None:
                    problems.append(
                        f"{where}: shop-{binary} rejects its environment: {parsed.error}"
                    )
                    continue
                problems += _collector_problems(where, path, env, local_services, cluster)
                if "SHOP_DATABASE__URL" in env and "postgres" in local_services:
                    problems += check_database_url(
                        where, env["SHOP_DATABASE__URL"], roles, local_services
                    )
                if container["name"] != "service" or doc["kind"] != "Deployment":
                    continue
                ports, port_issues = _container_problems(where, binary, container, parsed.settings)
                problems += port_issues
                if "SHOP_FLAGS__FILE" in env:
                    problems += _flag_file_problems(
                        where, pod, container, env["SHOP_FLAGS__FILE"], mountable, root
                    )
                labels = doc["spec"]["template"]["metadata"].get("labels", {})
                workloads.setdefault(binary, []).append(
                    Workload(ports, parsed.settings, labels, env, where)
                )
    return workloads, problems


def flag_shapes(flags: Doc) -> dict[str, list[str]]:
    """Each flag of a flag file (flagd's format) with the names of its variants."""
    return {name: sorted(flag.get("variants", {})) for name, flag in flags.get("flags", {}).items()}


def _flag_file_problems(
    where: str,
    pod: Doc,
    container: Doc,
    path: str,
    configmaps: dict[str, dict[str, str]],
    root: Path,
) -> Problems:
    """The flag file a service reads is a key of a ConfigMap mounted as a whole directory (a
    subPath mount never sees an edit), and it has the same flags and variants as the file
    compose mounts (infra/flags/flags.json)."""
    directory, _, key = path.rpartition("/")
    mount = next(
        (
            m
            for m in container.get("volumeMounts", [])
            if m.get("mountPath", "").rstrip("/") == directory
        ),
        None,
    )
    if mount is None:
        return [f"{where}: SHOP_FLAGS__FILE {path} is not in a mounted volume"]
    if "subPath" in mount:
        return [f"{where}: the flag volume is mounted with subPath, so edits never reach the pod"]
    volume: Doc = next((v for v in pod.get("volumes", []) if v.get("name") == mount["name"]), {})
    configmap = volume.get("configMap", {}).get("name")
    data = configmaps.get(configmap or "", {})
    if key not in data:
        return [f"{where}: SHOP_FLAGS__FILE {path} is not a key of a ConfigMap in the overlay"]
    try:
        cluster = json.loads(data[key])
        compose = json.loads((root / "infra/flags/flags.json").read_text())
    except (OSError, ValueError) as err:
        return [f"{where}: the flag file cannot be read: {err}"]
    if flag_shapes(cluster) != flag_shapes(compose):
        return [
            f"{where}: ConfigMap {configmap} has flags {flag_shapes(cluster)}, "
            f"infra/flags/flags.json has {flag_shapes(compose)}"
        ]
    return []


def _upstream_problems(cluster: _Cluster, workloads: dict[str, list[Workload]]) -> Problems:
    """Each SHOP_UPSTREAM__* names a Service port that leads to the callee's public port."""
    problems: Problems = []
    for instances in workloads.values():
        for workload in instances:
            for key, value in workload.env.items():
                if not key.startswith("SHOP_UPSTREAM__"):
                    continue
                target = urlsplit(value)
                host = target.hostname or ""
                entry = cluster.service_port(host, target.port)
                callee = workloads.get(host)
                if entry is None:
                    problems.append(
                        f"{workload.where}: {key}: no Service {host} with port {target.port}"
                    )
                    continue
                if callee is None:
                    continue
                lands_on = callee[0].ports.get(entry["targetPort"], entry["targetPort"])
                if lands_on != public_port(callee[0].settings):
                    problems.append(
                        f"{workload.where}: {key}: Service port {target.port} does not lead to "
                        f"{host}'s public port {public_port(callee[0].settings)}"
                    )
    return problems


def _service_problems(cluster: _Cluster, workloads: dict[str, list[Workload]]) -> Problems:
    """Each Service's target ports exist on the pods it selects."""
    return [
        f"Service/{name}: targetPort {target} is not a port of shop-{name}"
        for name, service in cluster.services.items()
        if name in workloads
        for entry in service["spec"]["ports"]
        if not workloads[name][0].has_port(target := entry.get("targetPort", entry["port"]))
    ]


def _istio_problems(
    rendered: Rendered, cluster: _Cluster, workloads: dict[str, list[Workload]]
) -> Problems:
    """Destinations, subsets, authorization ports and per-port mTLS agree with the above."""
    problems: Problems = []
    for path, docs in rendered.items():
        for doc in docs:
            kind, where = doc["kind"], where_of(path, doc)
            if kind == "VirtualService":
                for route in doc["spec"].get("http", []):
                    for destination in route.get("route", []):
                        d = destination["destination"]
                        port = d.get("port", {}).get("number")
                        if cluster.service_port(d["host"], port) is None:
                            problems.append(
                                f"{where}: destination {d['host']}:{port} is not a Service port"
                            )
            if kind == "DestinationRule":
                service = doc["spec"]["host"].split(".")[0]
                for subset in doc["spec"].get("subsets", []):
                    if (
                        subset["name"] == "v1"
                        and service in workloads
                        and not any(
                            all(w.labels.get(k) == v for k, v in subset["labels"].items())
                            for w in workloads[service]
                        )
                    ):
                        problems.append(f"{where}: subset v1 selects no shop-{service} pods")
            selector = (doc.get("spec") or {}).get("selector", {}).get("matchLabels", {})
            service = selector.get("app.kubernetes.io/name")
            if (
                kind not in ("AuthorizationPolicy", "PeerAuthentication")
                or service not in workloads
            ):
                continue
            own = set(workloads[service][0].ports.values())
            if kind == "AuthorizationPolicy":
                used = {
                    int(p)
                    for rule in doc["spec"].get("rules", [])
                    for op in rule.get("to", [])
                    for p in op.get("operation", {}).get("ports", [])
                }
            else:
                used = {int(p) for p in doc["spec"].get("portLevelMtls", {})}
            for port in sorted(used - own):
                problems.append(f"{where}: port {port} is not a port of shop-{service}")
    return problems


def seconds(duration: str) -> float:
    """`2s`, `800ms`, `1m 30s` (humantime, as the binaries print, or Istio's) in seconds."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h)", duration)
    return sum(float(n) * units[unit] for n, unit in parts)


def caller_deadlines(
    workloads: dict[str, list[Workload]],
) -> dict[tuple[str, str], tuple[float, str]]:
    """The longest deadline any caller gives a call, by (callee, kind of route: reads/writes),
    with the setting it comes from."""
    longest: dict[tuple[str, str], tuple[float, str]] = {}

    def note(callee: str, kind: str, value: str, setting: str) -> None:
        if seconds(value) > longest.get((callee, kind), (0.0, ""))[0]:
            longest[(callee, kind)] = (seconds(value), setting)

    for gateway in workloads.get("gateway", []):
        deadlines = gateway.settings["deadlines"]
        for callee in gateway.settings["upstream"]:
            note(callee, "reads", deadlines["read"], "the gateway's deadlines.read")
            note(callee, "writes", deadlines["write"], "the gateway's deadlines.write")
        note("order", "writes", deadlines["place_order"], "the gateway's deadlines.place_order")
    for order in workloads.get("order", []):
        saga = order.settings["saga"]
        for callee, setting in (("inventory", "step_timeout"), ("payment", "payment_timeout")):
            for kind in ("reads", "writes"):
                note(callee, kind, saga[setting], f"the saga's {setting}")
    return longest


def _timeout_problems(rendered: Rendered, workloads: dict[str, list[Workload]]) -> Problems:
    """Each backend route's mesh timeout is longer than the longest deadline its callers give:
    the caller's deadline decides, and its error is DEADLINE_EXCEEDED, not a mesh 504."""
    problems: Problems = []
    deadlines = caller_deadlines(workloads)
    for path, docs in rendered.items():
        for doc in docs:
            if doc.get("kind") != "VirtualService":
                continue
            for host in doc["spec"].get("hosts", []):
                callee = host.split(".")[0]
                for route in doc["spec"].get("http", []):
                    kind = "reads" if route.get("match") else "writes"
                    limit = deadlines.get((callee, kind))
                    if limit is None or "timeout" not in route:
                        continue
                    if seconds(route["timeout"]) <= limit[0]:
                        problems.append(
                            f"{where_of(path, doc)} route {route.get('name', kind)}: timeout"
                            f" {route['timeout']} is not longer than {limit[1]} ({limit[0]:g}s)"
                        )
    return problems


def check_k8s_config(rendered: Rendered, root: Path, binaries: Binaries) -> Problems:
    cluster = _Cluster(rendered, root)
    workloads, problems = _workloads(rendered, root, cluster, binaries)
    return (
        problems
        + _upstream_problems(cluster, workloads)
        + _service_problems(cluster, workloads)
        + _istio_problems(rendered, cluster, workloads)
        + _timeout_problems(rendered, workloads)
        + _registry_problems(rendered)
    )
