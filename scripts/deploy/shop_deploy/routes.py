"""The mesh's routes: a timeout on every one, retries explicit (Istio retries by default), none
on a backend's routes (its callers retry already: the gateway reads within a retry budget, the
saga its steps; a second layer in the mesh multiplies the attempts), and on other routes (the
ingress) only on idempotent reads that exist in proto/. The edge routes on no header and strips
the ones only the mesh may send (the canary's)."""

from __future__ import annotations

import re
from pathlib import Path

from .common import SHOP_SERVICES, Doc, Problems, Rendered, where_of

READ_METHOD = re.compile(r"^(Get|List|BatchGet)[A-Z]")


def proto_methods(root: Path) -> set[str]:
    """`{"/shop.order.v1.OrderService/PlaceOrder", ...}` from the contracts."""
    methods: set[str] = set()
    for proto in (root / "proto").rglob("*.proto"):
        text = proto.read_text()
        package = re.search(r"^package\s+([\w.]+);", text, re.M)
        if package is None:
            continue
        for service, body in re.findall(r"service\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
            for method in re.findall(r"rpc\s+(\w+)\s*\(", body):
                methods.add(f"/{package.group(1)}.{service}/{method}")
    return methods


def _is_read(match: Doc) -> bool:
    uri = match.get("uri", {}).get("exact", "")
    if uri.startswith("/shop.") and READ_METHOD.match(uri.rsplit("/", 1)[-1]):
        return True
    return bool(match.get("method", {}).get("exact") == "GET" and set(match) == {"method"})


def is_backend_host(host: str) -> bool:
    """A host of a service that other shop services call (every one but the gateway)."""
    name = host.split(".")[0]
    return name in SHOP_SERVICES and name != "gateway"


def route_problems(label: str, route: Doc, methods: set[str], backend: bool = False) -> Problems:
    problems: Problems = []
    if "timeout" not in route:
        problems.append(f"{label}: no timeout")
    attempts = route.get("retries", {}).get("attempts")
    if attempts is None:
        return [*problems, f"{label}: retries not set (Istio would retry by default)"]
    matches: list[Doc] = route.get("match", [])
    for match in matches:
        uri = match.get("uri", {}).get("exact")
        if uri and uri.startswith("/shop.") and uri not in methods:
            problems.append(f"{label}: {uri} is not an RPC in proto/")
    if attempts == 0:
        return problems
    if backend:
        return [
            *problems,
            f"{label}: retries {attempts} in the mesh on top of the callers' own retries"
            " (the gateway's budgeted read retries, the saga's step retries): one layer only",
        ]
    if not matches:
        problems.append(f"{label}: retries {attempts} on a catch-all route (writes included)")
    for match in matches:
        if not _is_read(match):
            uri = match.get("uri", {}).get("exact", "")
            problems.append(f"{label}: retries {attempts} on {uri or match}, which is not a read")
    return problems


# Headers only the mesh may set: the edge removes them from every request it forwards.
INTERNAL_HEADERS = ("x-canary",)


def edge_problems(label: str, route: Doc) -> Problems:
    """A route of the ingress: routes on no header a client could forge, and strips the
    internal ones, so only a workload inside the mesh can ask for the canary."""
    problems: Problems = []
    for match in route.get("match", []):
        if match.get("headers"):
            problems.append(
                f"{label}: routes on headers {sorted(match['headers'])}, which anyone outside"
                " can send"
            )
    removed = route.get("headers", {}).get("request", {}).get("remove", [])
    for header in INTERNAL_HEADERS:
        if header not in removed:
            problems.append(f"{label}: does not remove {header} from outside requests")
    return problems


def is_public_edge(doc: Doc) -> bool:
    """A VirtualService for outside clients: bound to an ingress Gateway, not only to the mesh's
    sidecars, for a public host (not the ingress's own cluster name, which istiod uses)."""
    gateways = doc["spec"].get("gateways", ["mesh"])
    hosts = doc["spec"].get("hosts", [])
    return any(g != "mesh" for g in gateways) and any(
        not h.endswith(".cluster.local") for h in hosts
    )


def check_routes(rendered: Rendered, root: Path) -> Problems:
    methods = proto_methods(root)
    edge = [
        problem
        for path, docs in rendered.items()
        for doc in docs
        if doc.get("kind") == "VirtualService" and is_public_edge(doc)
        for i, route in enumerate(doc["spec"].get("http", []))
        for problem in edge_problems(f"{where_of(path, doc)} route {route.get('name', i)}", route)
    ]
    return edge + [
        problem
        for path, docs in rendered.items()
        for doc in docs
        if doc.get("kind") == "VirtualService"
        for i, route in enumerate(doc["spec"].get("http", []))
        for problem in route_problems(
            f"{where_of(path, doc)} route {route.get('name', i)}",
            route,
            methods,
            any(is_backend_host(host) for host in doc["spec"].get("hosts", [])),
        )
    ]
