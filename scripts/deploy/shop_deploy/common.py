"""What every stage shares: the repository, the service table, running tools, the report."""

from __future__ import annotations

import re
import subprocess
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# A parsed YAML or JSON document. Manifests are checked field by field, so they stay untyped
# dictionaries; everything this package derives from them is typed.
Doc = dict[str, Any]
# Rendered kustomizations: {"k8s/overlays/dev": [documents]}.
Rendered = dict[str, list[Doc]]
Problems = list[str]

REPO = Path(__file__).resolve().parents[3]
KUSTOMIZATIONS = [
    "k8s/overlays/dev",
    "k8s/overlays/prod",
    "k8s/overlays/prod/canary",
    "k8s/istio",
    "k8s/istio/canary",
    "k8s/istio/fault-injection",
    "k8s/monitoring",
]
# Variables a service reads besides its SHOP_<SECTION>__<KEY> settings.
STANDARD_VARS = frozenset({"RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT"})
SHOP_IMAGE = re.compile(r"ferris-shop/(\w+)(?::|$)")


@dataclass(frozen=True)
class ServiceEntry:
    """One row of services.toml."""

    name: str
    public: int
    admin: int
    http: bool


def service_table(root: Path = REPO) -> list[ServiceEntry]:
    """The services, in start order, as services.toml lists them."""
    rows = tomllib.loads((root / "services.toml").read_text())["service"]
    return [
        ServiceEntry(row["name"], int(row["public"]), int(row["admin"]), bool(row.get("http")))
        for row in rows
    ]


SHOP_SERVICES: list[str] = [entry.name for entry in service_table()]


def shop_binary_of_image(image: str) -> str | None:
    """The shop service an image runs (`ferris-shop/order:v1` -> `order`), if any."""
    match = SHOP_IMAGE.search(image)
    return match.group(1) if match and match.group(1) in SHOP_SERVICES else None


def run(
    cmd: list[str],
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True)


def tool_output(result: subprocess.CompletedProcess[str]) -> Problems:
    """What a failed tool said, one problem a line."""
    text = (result.stdout + result.stderr).strip()
    return [line for line in text.splitlines() if line.strip()] or [
        f"exit code {result.returncode}"
    ]


def port_of(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def public_port(settings: Doc) -> int:
    """The port a service's public server listens on, from its effective settings."""
    section = settings.get("grpc") or settings.get("http")
    assert section is not None, "a service has a grpc or an http section"
    return port_of(section["addr"])


def env_problems(where: str, env: Mapping[str, str]) -> Problems:
    return [
        f"{where}: {name} is not a variable the services read"
        for name in env
        if not name.startswith("SHOP_") and name not in STANDARD_VARS
    ]


def pod_spec(doc: Doc) -> Doc | None:
    """The pod template of a workload, or None for anything else."""
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        spec: Doc = doc["spec"]["template"]["spec"]
        return spec
    if kind == "CronJob":
        cron: Doc = doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
        return cron
    return None


def where_of(path: str, doc: Doc) -> str:
    return f"{path}: {doc['kind']}/{doc['metadata']['name']}"


@dataclass
class Report:
    """Problems by stage, printed as each stage finishes."""

    failures: dict[str, Problems] = field(default_factory=dict)

    def stage(self, name: str, problems: Problems) -> None:
        if problems:
            self.failures.setdefault(name, []).extend(problems)
        found = self.failures.get(name, [])
        status = "ok" if not found else f"FAILED ({len(found)})"
        print(f"  {name:<12} {status}", flush=True)
        for problem in found:
            print(f"      {problem}", flush=True)
