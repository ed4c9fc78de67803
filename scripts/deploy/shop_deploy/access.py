"""The mesh's AuthorizationPolicies against the services' own authorization tables: a caller is
admitted to exactly the RPCs the callee's table opens to it, and every RPC a table reserves
for a service reaches it through the mesh."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .binaries import Binaries
from .common import SHOP_SERVICES, Doc, Problems, Rendered, where_of

SERVICE_ACCOUNT = re.compile(r"^cluster\.local/ns/[\w-]+/sa/([\w-]+)$")
# People reach the backends only through the gateway, so the gateway's account stands for them.
PEOPLE = frozenset({"anyone", "customer", "admin"})


@dataclass(frozen=True)
class Table:
    """One service's authorization table: who may call each method."""

    binary: str
    methods: dict[str, list[str]]


def access_tables(binaries: Binaries) -> dict[str, Table]:
    """{"shop.order.v1.OrderService": Table} as the binaries print them."""
    tables: dict[str, Table] = {}
    for service in SHOP_SERVICES:
        table = binaries.access_table(service)
        if table:
            tables[table["service"]] = Table(service, table["methods"])
    return tables


def admitted_by_table(account: str) -> set[str]:
    """The principals of an access table that a mesh account may stand for."""
    return set(PEOPLE) if account == "gateway" else {"anyone", f"service:{account}"}


def _accounts(rule: Doc) -> list[str]:
    return [
        match.group(1)
        for source in rule.get("from", [])
        for principal in source.get("source", {}).get("principals", [])
        if (match := SERVICE_ACCOUNT.match(principal))
    ]


def _policy_problems(
    where: str,
    callee: str,
    policy: Doc,
    tables: dict[str, Table],
    allowed: dict[tuple[str, str], set[str]],
) -> Problems:
    """Checks one policy's rules; records what they admit in `allowed`."""
    problems: Problems = []
    for rule in policy["spec"].get("rules", []):
        accounts = _accounts(rule)
        if not accounts:
            continue
        for to in rule.get("to", []):
            paths = to.get("operation", {}).get("paths")
            if not paths:
                problems.append(
                    f"{where}: a rule for {', '.join(accounts)} names no paths: "
                    "it admits every RPC, whatever the access table says"
                )
                continue
            for rpc in paths:
                service, _, method = rpc.strip("/").partition("/")
                table = tables.get(service)
                if table is None or table.binary != callee or method not in table.methods:
                    problems.append(f"{where}: {rpc} is not an RPC of shop-{callee}'s access table")
                    continue
                for account in accounts:
                    if not admitted_by_table(account) & set(table.methods[method]):
                        problems.append(
                            f"{where}: {rpc} is allowed from {account}, but its access table "
                            f"admits only {', '.join(table.methods[method])}"
                        )
                    allowed.setdefault((callee, account), set()).add(rpc)
    return problems


def _reserved_problems(
    path: str, tables: dict[str, Table], allowed: dict[tuple[str, str], set[str]]
) -> Problems:
    """What a table reserves for a service must reach it through the mesh."""
    return [
        f"{path}: the access table of shop-{table.binary} opens {method} to "
        f"{principal}, but no AuthorizationPolicy allows it from {account}"
        for service, table in tables.items()
        for method, principals in table.methods.items()
        for principal in principals
        if principal.startswith("service:")
        and (account := principal.split(":", 1)[1])
        and f"/{service}/{method}" not in allowed.get((table.binary, account), set())
    ]


def check_access(rendered: Rendered, binaries: Binaries) -> Problems:
    tables = access_tables(binaries)
    if not tables:
        return ["no shop binary printed an access table (`shop-<service> access-table`)"]
    problems: Problems = []
    seen_policies = False
    for path, docs in rendered.items():
        allowed: dict[tuple[str, str], set[str]] = {}  # (callee, account) -> {rpc path}
        for doc in docs:
            if doc["kind"] != "AuthorizationPolicy":
                continue
            selector = doc["spec"].get("selector") or {}
            callee = selector.get("matchLabels", {}).get("app.kubernetes.io/name")
            if callee not in SHOP_SERVICES or callee == "gateway":
                continue
            seen_policies = True
            problems += _policy_problems(where_of(path, doc), callee, doc, tables, allowed)
        # Only in renderings that have the mesh's policies at all.
        if allowed:
            problems += _reserved_problems(path, tables, allowed)
    if not seen_policies:
        problems.append("no AuthorizationPolicy selects a shop backend")
    return problems
