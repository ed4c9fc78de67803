#!/usr/bin/env python3
"""Validates everything that deploys the shop, without a Docker engine or a cluster.

Run through scripts/validate-deploy.sh, which installs the tools first. Stages:

  yaml        yamllint over docker-compose.yml, infra/ and k8s/
  compose     docker-compose.yml against the compose-spec JSON schema
  dockerfile  hadolint
  kustomize   every kustomization renders (kubectl kustomize)
  k8s-schema  rendered core resources against the Kubernetes 1.31 schemas, unknown fields rejected
  istio       rendered Istio resources against models of Istio's CRDs, unknown fields rejected
  hardening   every container: limits, probes, non-root, read-only root fs, no privilege
              escalation, capabilities dropped, seccomp, pinned image tags
  routes      mesh retries only on idempotent reads that exist in proto/, a timeout on every route
  access      the mesh's AuthorizationPolicies admit each caller to exactly the RPCs the callee's
              authorization table opens to it (`shop-<service> access-table`), and admit the
              service a table reserves an RPC for
  config      every service's environment in compose and Kubernetes is parsed by the service
              binary itself (`check-config`); ports, upstream addresses, credentials, Istio
              ports and Prometheus targets agree with what the binaries listen on
  postgres    infra/postgres's databases and roles on a real server: each service migrates its
              database as its own role and cannot open another's
  telemetry   dashboards are generated from scripts/deploy/dashboards.py, and every metric they
              and the alert rules use is one the code exports

Every stage runs and reports; the exit code is 1 if any failed. `--self-test` breaks copies of
the repository in known ways and checks that each breakage is caught.
"""

import argparse
import base64
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

import tomllib

import yaml

REPO = Path(__file__).resolve().parents[2]
KUSTOMIZATIONS = [
    "k8s/overlays/dev",
    "k8s/overlays/prod",
    "k8s/istio",
    "k8s/istio/canary",
    "k8s/istio/fault-injection",
]
# The service table: every shop service's name and ports.
SERVICE_TABLE = tomllib.loads((REPO / "services.toml").read_text())["service"]
SHOP_SERVICES = [service["name"] for service in SERVICE_TABLE]
# Variables a service reads besides its SHOP_<SECTION>__<KEY> settings.
STANDARD_VARS = {"RUST_LOG", "OTEL_EXPORTER_OTLP_ENDPOINT"}
READ_METHOD = re.compile(r"^(Get|List|BatchGet)[A-Z]")
PROMQL_WORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
    "unless", "offset", "le", "inf", "nan",
}


class Report:
    def __init__(self):
        self.failures = {}

    def fail(self, stage, message):
        self.failures.setdefault(stage, []).append(message)

    def stage(self, name, problems):
        for problem in problems:
            self.fail(name, problem)
        status = "ok" if not self.failures.get(name) else f"FAILED ({len(self.failures[name])})"
        print(f"  {name:<11} {status}", flush=True)
        for problem in self.failures.get(name, []):
            print(f"      {problem}", flush=True)


def run(cmd, cwd=None, env=None, stdin=None):
    return subprocess.run(cmd, cwd=cwd, env=env, input=stdin, capture_output=True, text=True)


def tool_output(result):
    text = (result.stdout + result.stderr).strip()
    return [line for line in text.splitlines() if line.strip()] or [f"exit code {result.returncode}"]


# --- yaml, compose, dockerfile --------------------------------------------------------------

def check_yaml(root):
    targets = ["docker-compose.yml", "infra", "k8s"]
    result = run(["yamllint", "-s", "-f", "parsable", "-c", str(REPO / "scripts/deploy/yamllint.yaml"),
                  *targets], cwd=root)
    return [] if result.returncode == 0 else tool_output(result)


def check_compose_schema(root):
    result = run(["check-jsonschema", "--builtin-schema", "vendor.compose-spec",
                  str(root / "docker-compose.yml")])
    return [] if result.returncode == 0 else tool_output(result)


def check_dockerfile(root):
    result = run(["hadolint", "--failure-threshold", "warning", str(root / "Dockerfile")])
    return [] if result.returncode == 0 else tool_output(result)


# --- rendering --------------------------------------------------------------------------------

def render(root):
    """{kustomization: [documents]} and the problems met while rendering."""
    rendered, problems = {}, []
    for path in KUSTOMIZATIONS:
        result = run(["kubectl", "kustomize", str(root / path)])
        if result.returncode != 0:
            problems.append(f"{path}: " + " ".join(tool_output(result)))
            continue
        rendered[path] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return rendered, problems


def is_istio(doc):
    return ".istio.io/" in doc.get("apiVersion", "")


def check_k8s_schema(rendered):
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, docs in rendered.items():
            core = [doc for doc in docs if not is_istio(doc)]
            if not core:
                continue
            file = Path(tmp) / path / "rendered.yaml"
            file.parent.mkdir(parents=True)
            file.write_text(yaml.safe_dump_all(core))
            result = run(["kubernetes-validate", "--strict", "--quiet", "--kubernetes-version", "1.31.0",
                          str(file)])
            if result.returncode != 0:
                problems += [f"{path}: {line.replace(str(file), '').strip()}" for line in tool_output(result)]
    return problems


def check_istio(rendered, node_dir):
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        files = []
        for path, docs in rendered.items():
            istio = [doc for doc in docs if is_istio(doc)]
            if istio:
                file = Path(tmp) / path / "rendered.yaml"
                file.parent.mkdir(parents=True)
                file.write_text(yaml.safe_dump_all(istio))
                files.append(str(file))
        result = run(["node", str(node_dir / "check.mjs"), *files])
        if result.returncode != 0:
            problems = [line.replace(tmp + "/", "").replace("/rendered.yaml", "").removeprefix("istio: ")
                        for line in tool_output(result) if not re.search(r"resources checked", line)]
    return problems


# --- hardening --------------------------------------------------------------------------------

def pod_spec(doc):
    kind = doc.get("kind")
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return doc["spec"]["template"]["spec"]
    if kind == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return None


def image_problem(image):
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" in image:
        return None
    if ":" not in name:
        return f"image {image} has no tag"
    if name.endswith(":latest"):
        return f"image {image} uses :latest"
    return None


def container_problems(where, container, pod, needs_probes):
    problems = []
    sc = container.get("securityContext", {})
    psc = pod.get("securityContext", {})
    name = f"{where} container {container['name']}"
    if not (sc.get("runAsNonRoot") or psc.get("runAsNonRoot")):
        problems.append(f"{name}: runAsNonRoot is not set")
    if sc.get("readOnlyRootFilesystem") is not True:
        problems.append(f"{name}: readOnlyRootFilesystem is not true")
    if sc.get("allowPrivilegeEscalation") is not False:
        problems.append(f"{name}: allowPrivilegeEscalation is not false")
    if "ALL" not in sc.get("capabilities", {}).get("drop", []):
        problems.append(f"{name}: capabilities do not drop ALL")
    seccomp = sc.get("seccompProfile", psc.get("seccompProfile", {})).get("type")
    if seccomp not in ("RuntimeDefault", "Localhost"):
        problems.append(f"{name}: no RuntimeDefault seccomp profile")
    resources = container.get("resources", {})
    for kind in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            if resource not in resources.get(kind, {}):
                problems.append(f"{name}: no {kind}.{resource}")
    image_issue = image_problem(container.get("image", ""))
    if image_issue:
        problems.append(f"{name}: {image_issue}")
    if needs_probes:
        for probe in ("livenessProbe", "readinessProbe"):
            if probe not in container:
                problems.append(f"{name}: no {probe}")
    return problems


def check_hardening(rendered, compose):
    problems = []
    for path, docs in rendered.items():
        for doc in docs:
            pod = pod_spec(doc)
            if pod is None:
                continue
            where = f"{path}: {doc['kind']}/{doc['metadata']['name']}"
            if pod.get("automountServiceAccountToken") is not False:
                problems.append(f"{where}: automountServiceAccountToken is not false")
            long_running = doc["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
            for container in pod.get("containers", []):
                problems += container_problems(where, container, pod, long_running)
            for container in pod.get("initContainers", []):
                problems += container_problems(where, container, pod, False)
    for name, service in compose.get("services", {}).items():
        image_issue = image_problem(service.get("image", ""))
        if image_issue:
            problems.append(f"docker-compose.yml: {name}: {image_issue}")
        if shop_service_of(service):
            for key, wanted in (("read_only", True), ("cap_drop", ["ALL"])):
                if service.get(key) != wanted:
                    problems.append(f"docker-compose.yml: {name}: {key} should be {wanted}")
            if "seed" not in service.get("command", []) and "healthcheck" not in service:
                problems.append(f"docker-compose.yml: {name}: no healthcheck")
    return problems


# --- routes -----------------------------------------------------------------------------------

def proto_methods(root):
    """{"/shop.order.v1.OrderService/PlaceOrder", ...} from the contracts."""
    methods = set()
    for proto in (root / "proto").rglob("*.proto"):
        text = proto.read_text()
        package = re.search(r"^package\s+([\w.]+);", text, re.M)
        for service, body in re.findall(r"service\s+(\w+)\s*\{(.*?)\n\}", text, re.S):
            for method in re.findall(r"rpc\s+(\w+)\s*\(", body):
                methods.add(f"/{package.group(1)}.{service}/{method}")
    return methods


def check_routes(rendered, root):
    problems = []
    methods = proto_methods(root)
    for path, docs in rendered.items():
        for doc in docs:
            if doc.get("kind") != "VirtualService":
                continue
            where = f"{path}: VirtualService/{doc['metadata']['name']}"
            routes = doc["spec"].get("http", [])
            for i, route in enumerate(routes):
                label = f"{where} route {route.get('name', i)}"
                if "timeout" not in route:
                    problems.append(f"{label}: no timeout")
                attempts = route.get("retries", {}).get("attempts")
                if attempts is None:
                    problems.append(f"{label}: retries not set (Istio would retry by default)")
                    continue
                matches = route.get("match", [])
                for match in matches:
                    uri = match.get("uri", {}).get("exact")
                    if uri and uri.startswith("/shop.") and uri not in methods:
                        problems.append(f"{label}: {uri} is not an RPC in proto/")
                if attempts == 0:
                    continue
                if not matches:
                    problems.append(f"{label}: retries {attempts} on a catch-all route (writes included)")
                for match in matches:
                    uri = match.get("uri", {}).get("exact", "")
                    method = match.get("method", {}).get("exact")
                    rpc = uri.rsplit("/", 1)[-1]
                    if uri.startswith("/shop.") and READ_METHOD.match(rpc):
                        continue
                    if method == "GET" and set(match) == {"method"}:
                        continue
                    problems.append(f"{label}: retries {attempts} on {uri or match}, which is not a read")
    return problems


# --- config -----------------------------------------------------------------------------------

def shop_service_of(service):
    """The shop binary a compose service runs, from its build arg or its image name."""
    arg = (service.get("build") or {}).get("args", {}).get("SERVICE") if isinstance(
        service.get("build"), dict) else None
    if arg:
        return arg
    match = re.search(r"ferris-shop/(\w+)(:|$)", service.get("image", ""))
    return match.group(1) if match and match.group(1) in SHOP_SERVICES else None


class Binaries:
    """Runs `shop-<service> check-config` with exactly the given environment; caches results."""

    def __init__(self, bin_dir):
        self.bin_dir = bin_dir
        self.cache = {}

    def settings(self, service, env):
        key = (service, tuple(sorted(env.items())))
        if key not in self.cache:
            clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
            result = run([str(self.bin_dir / f"shop-{service}"), "check-config"], env=clean)
            if result.returncode == 0:
                self.cache[key] = (json.loads(result.stdout), None)
            else:
                self.cache[key] = (None, " ".join(tool_output(result)))
        return self.cache[key]


    def access_table(self, service):
        """The service's authorization table ({"service": ..., "methods": {...}}), or None."""
        key = ("access-table", service)
        if key not in self.cache:
            clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
            result = run([str(self.bin_dir / f"shop-{service}"), "access-table"], env=clean)
            self.cache[key] = json.loads(result.stdout) if result.returncode == 0 else None
        return self.cache[key]


def port_of(addr):
    return int(addr.rsplit(":", 1)[1])


def public_port(settings):
    section = settings.get("grpc") or settings.get("http")
    return port_of(section["addr"])


def env_problems(where, env):
    return [f"{where}: {name} is not a variable the services read"
            for name in env if not name.startswith("SHOP_") and name not in STANDARD_VARS]


def database_roles(root):
    """{(role, password, database)} that infra/postgres creates."""
    sql = (root / "infra/postgres/01-databases.sql").read_text()
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql))
    return {(owner, roles.get(owner), db) for db, owner in re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql)}


def check_database_url(where, url, roles, hosts):
    problems = []
    parts = urlsplit(url)
    if hosts is not None and parts.hostname not in hosts:
        problems.append(f"{where}: database host {parts.hostname} is not a service here")
    if roles is not None and (parts.username, parts.password, parts.path.lstrip("/")) not in roles:
        problems.append(f"{where}: database role/password/name in SHOP_DATABASE__URL does not match "
                        "infra/postgres/01-databases.sql")
    return problems


def compose_env(service):
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def check_compose_config(compose, root, binaries):
    problems = []
    services = compose.get("services", {})
    settings = {}
    roles = database_roles(root)
    rabbit_env = services.get("rabbitmq", {}).get("environment", {})
    for name, service in services.items():
        binary = shop_service_of(service)
        if not binary:
            continue
        where = f"docker-compose.yml: {name}"
        env = compose_env(service)
        problems += env_problems(where, env)
        parsed, error = binaries.settings(binary, env)
        if error:
            problems.append(f"{where}: shop-{binary} rejects its environment: {error}")
            continue
        if not service.get("command"):  # a server, not a one-shot command like `seed`
            settings[name] = parsed
        listening = {public_port(parsed), port_of(parsed["admin"]["addr"])}
        for mapping in service.get("ports", []):
            container_port = int(str(mapping).split(":")[-1].split("/")[0])
            if container_port not in listening:
                problems.append(f"{where}: publishes {container_port}, shop-{binary} listens on {sorted(listening)}")
        if "SHOP_DATABASE__URL" in env:
            problems += check_database_url(where, env["SHOP_DATABASE__URL"], roles, set(services))
        if "SHOP_AMQP__URL" in env:
            amqp = urlsplit(env["SHOP_AMQP__URL"])
            if (amqp.username, amqp.password) != (rabbit_env.get("RABBITMQ_DEFAULT_USER"),
                                                  rabbit_env.get("RABBITMQ_DEFAULT_PASS")):
                problems.append(f"{where}: SHOP_AMQP__URL credentials are not RabbitMQ's default user")
        otel = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if otel and urlsplit(otel).hostname not in services:
            problems.append(f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT host is not a compose service")
    for name, service in services.items():
        for key, value in compose_env(service).items():
            if not key.startswith("SHOP_UPSTREAM__"):
                continue
            target = urlsplit(value)
            if target.hostname not in settings:
                problems.append(f"docker-compose.yml: {name}: {key} points at {target.hostname}, not a shop service")
            elif target.port != public_port(settings[target.hostname]):
                problems.append(f"docker-compose.yml: {name}: {key} uses port {target.port}, "
                                f"{target.hostname} listens on {public_port(settings[target.hostname])}")
    # Prometheus scrapes each service's admin port under the compose (and Service) name.
    prometheus = yaml.safe_load((root / "infra/prometheus/prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    for name, parsed in settings.items():
        wanted = f"{name}:{port_of(parsed['admin']['addr'])}"
        if wanted not in targets:
            problems.append(f"infra/prometheus/prometheus.yml: no scrape target {wanted} (admin port of {name})")
    return problems, settings


def secret_values(doc):
    data = {k: base64.b64decode(v).decode() for k, v in (doc.get("data") or {}).items()}
    data.update(doc.get("stringData") or {})
    return data


def example_secrets(root):
    """Secrets an operator creates from k8s/**/secrets.example/<service>.env."""
    found = {}
    for file in (root / "k8s").rglob("secrets.example/*.env"):
        values = {}
        for line in file.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                key, _, value = line.partition("=")
                values[key.strip()] = value.strip()
        found[f"{file.stem}-secrets"] = values
    return found


def k8s_env(container, configmaps, secrets, where):
    env, problems = {}, []
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            name = source["configMapRef"]["name"]
            if name not in configmaps:
                problems.append(f"{where}: ConfigMap {name} is not rendered")
            env.update(configmaps.get(name, {}))
        if "secretRef" in source:
            name = source["secretRef"]["name"]
            if name not in secrets:
                problems.append(f"{where}: Secret {name} is neither generated nor in a secrets.example/")
            env.update(secrets.get(name, {}))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = str(var["value"])
        elif "secretKeyRef" in var.get("valueFrom", {}):
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secrets.get(ref["name"], {}).get(ref["key"], "")
    return env, problems


def check_k8s_config(rendered, root, binaries):
    problems = []
    roles = database_roles(root)
    # Names and ports of the Services, and Secrets, over every rendering: the Istio variations
    # refer to what the overlays create.
    services, secrets = {}, dict(example_secrets(root))
    for docs in rendered.values():
        for doc in docs:
            if doc["kind"] == "Service":
                services[doc["metadata"]["name"]] = doc
            if doc["kind"] == "Secret":
                secrets[re.sub(r"-[a-z0-9]{10}$", "", doc["metadata"]["name"])] = secret_values(doc)
                secrets[doc["metadata"]["name"]] = secret_values(doc)
    workloads = {}  # service -> (container, parsed settings, labels)
    for path, docs in rendered.items():
        configmaps = {doc["metadata"]["name"]: doc.get("data", {}) for doc in docs if doc["kind"] == "ConfigMap"}
        local_services = {doc["metadata"]["name"] for doc in docs if doc["kind"] == "Service"}
        for doc in docs:
            pod = pod_spec(doc)
            if pod is None:
                continue
            for container in pod.get("initContainers", []) + pod.get("containers", []):
                match = re.search(r"ferris-shop/(\w+):", container.get("image", ""))
                if not match or match.group(1) not in SHOP_SERVICES:
                    continue
                binary = match.group(1)
                where = f"{path}: {doc['kind']}/{doc['metadata']['name']} container {container['name']}"
                env, env_issues = k8s_env(container, configmaps, secrets, where)
                problems += env_issues + env_problems(where, env)
                parsed, error = binaries.settings(binary, env)
                if error:
                    problems.append(f"{where}: shop-{binary} rejects its environment: {error}")
                    continue
                if "SHOP_DATABASE__URL" in env and "postgres" in local_services:
                    problems += check_database_url(where, env["SHOP_DATABASE__URL"], roles, local_services)
                if container["name"] != "service" or doc["kind"] != "Deployment":
                    continue
                ports = {p["name"]: p["containerPort"] for p in container.get("ports", [])}
                public_name = "grpc" if "grpc" in parsed else "http"
                if ports.get(public_name) != public_port(parsed):
                    problems.append(f"{where}: port {public_name} is {ports.get(public_name)}, "
                                    f"shop-{binary} listens on {public_port(parsed)}")
                if ports.get("admin") != port_of(parsed["admin"]["addr"]):
                    problems.append(f"{where}: port admin is {ports.get('admin')}, "
                                    f"shop-{binary} serves admin on {port_of(parsed['admin']['addr'])}")
                for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                    port = container.get(probe, {}).get("httpGet", {}).get("port")
                    if port is not None and port not in ports and port not in ports.values():
                        problems.append(f"{where}: {probe} uses port {port}, which the container does not have")
                labels = doc["spec"]["template"]["metadata"].get("labels", {})
                workloads.setdefault(binary, []).append((ports, parsed, labels, env, where))

    def service_port(host, port):
        service = services.get(host.split(".")[0])
        if service is None:
            return None
        for entry in service["spec"]["ports"]:
            if entry["port"] == port:
                return entry
        return None

    for binary, instances in workloads.items():
        for ports, parsed, labels, env, where in instances:
            for key, value in env.items():
                if key.startswith("SHOP_UPSTREAM__"):
                    target = urlsplit(value)
                    entry = service_port(target.hostname, target.port)
                    callee = workloads.get(target.hostname)
                    if entry is None:
                        problems.append(f"{where}: {key}: no Service {target.hostname} with port {target.port}")
                    elif callee and callee[0][0].get(entry["targetPort"], entry["targetPort"]) != public_port(callee[0][1]):
                        problems.append(f"{where}: {key}: Service port {target.port} does not lead to "
                                        f"{target.hostname}'s public port {public_port(callee[0][1])}")
    # Each Service's target ports exist on the pods it selects.
    for name, service in services.items():
        if name not in workloads:
            continue
        ports = workloads[name][0][0]
        for entry in service["spec"]["ports"]:
            target = entry.get("targetPort", entry["port"])
            if target not in ports and target not in ports.values():
                problems.append(f"Service/{name}: targetPort {target} is not a port of shop-{name}")
    # Istio: destinations, subsets, authorization ports and per-port mTLS agree with the above.
    for path, docs in rendered.items():
        for doc in docs:
            kind, name = doc["kind"], doc["metadata"]["name"]
            where = f"{path}: {kind}/{name}"
            if kind == "VirtualService":
                for route in doc["spec"].get("http", []):
                    for destination in route.get("route", []):
                        d = destination["destination"]
                        port = d.get("port", {}).get("number")
                        if service_port(d["host"], port) is None:
                            problems.append(f"{where}: destination {d['host']}:{port} is not a Service port")
            if kind == "DestinationRule":
                service = doc["spec"]["host"].split(".")[0]
                for subset in doc["spec"].get("subsets", []):
                    if subset["name"] == "v1" and service in workloads and not any(
                            all(labels.get(k) == v for k, v in subset["labels"].items())
                            for _, _, labels, _, _ in workloads[service]):
                        problems.append(f"{where}: subset v1 selects no shop-{service} pods")
            selector = (doc.get("spec") or {}).get("selector", {}).get("matchLabels", {})
            service = selector.get("app.kubernetes.io/name")
            if kind in ("AuthorizationPolicy", "PeerAuthentication") and service in workloads:
                own = set(workloads[service][0][0].values())
                if kind == "AuthorizationPolicy":
                    used = {int(p) for rule in doc["spec"].get("rules", []) for op in rule.get("to", [])
                            for p in op.get("operation", {}).get("ports", [])}
                else:
                    used = {int(p) for p in doc["spec"].get("portLevelMtls", {})}
                for port in sorted(used - own):
                    problems.append(f"{where}: port {port} is not a port of shop-{service}")
    return problems


# --- access -----------------------------------------------------------------------------------

SERVICE_ACCOUNT = re.compile(r"^cluster\.local/ns/[\w-]+/sa/([\w-]+)$")
# People reach the backends only through the gateway, so the gateway's account stands for them.
PEOPLE = {"anyone", "customer", "admin"}


def check_access(rendered, binaries):
    problems = []
    tables = {}  # "shop.x.v1.XService" -> (binary, {method: [principals]})
    for service in SHOP_SERVICES:
        table = binaries.access_table(service)
        if table:
            tables[table["service"]] = (service, table["methods"])
    if not tables:
        return ["no shop binary printed an access table (`shop-<service> access-table`)"]
    seen_policies = False
    for path, docs in rendered.items():
        allowed = {}  # (callee, account) -> {rpc path}
        for doc in docs:
            if doc["kind"] != "AuthorizationPolicy":
                continue
            callee = (doc["spec"].get("selector") or {}).get("matchLabels", {}).get("app.kubernetes.io/name")
            if callee not in SHOP_SERVICES or callee == "gateway":
                continue
            seen_policies = True
            where = f"{path}: AuthorizationPolicy/{doc['metadata']['name']}"
            for rule in doc["spec"].get("rules", []):
                accounts = [SERVICE_ACCOUNT.match(p).group(1)
                            for source in rule.get("from", [])
                            for p in source.get("source", {}).get("principals", [])
                            if SERVICE_ACCOUNT.match(p)]
                if not accounts:
                    continue
                for to in rule.get("to", []):
                    operation = to.get("operation", {})
                    paths = operation.get("paths")
                    if not paths:
                        problems.append(f"{where}: a rule for {', '.join(accounts)} names no paths: "
                                        "it admits every RPC, whatever the access table says")
                        continue
                    for rpc in paths:
                        service, _, method = rpc.strip("/").partition("/")
                        owner, methods = tables.get(service, (None, {}))
                        if owner != callee or method not in methods:
                            problems.append(f"{where}: {rpc} is not an RPC of shop-{callee}'s access table")
                            continue
                        for account in accounts:
                            admits = PEOPLE if account == "gateway" else {"anyone", f"service:{account}"}
                            if not admits & set(methods[method]):
                                problems.append(
                                    f"{where}: {rpc} is allowed from {account}, but its access table "
                                    f"admits only {', '.join(methods[method])}")
                            allowed.setdefault((callee, account), set()).add(rpc)
        # What a table reserves for a service must reach it through the mesh (in every rendering
        # that has the mesh's policies at all).
        if not allowed:
            continue
        for service, (callee, methods) in tables.items():
            for method, principals in methods.items():
                for principal in principals:
                    if not principal.startswith("service:"):
                        continue
                    account = principal.split(":", 1)[1]
                    rpc = f"/{service}/{method}"
                    if rpc not in allowed.get((callee, account), set()):
                        problems.append(f"{path}: the access table of shop-{callee} opens {method} to "
                                        f"{principal}, but no AuthorizationPolicy allows it from {account}")
    if not seen_policies:
        problems.append("no AuthorizationPolicy selects a shop backend")
    return problems


# --- postgres ---------------------------------------------------------------------------------

def check_postgres_init(root, compose, binaries):
    """Runs infra/postgres/01-databases.sql on a real server (under throwaway names), migrates
    every service's database as that service's own role, and checks one role cannot open
    another's database: the least-privilege setup compose and the dev overlay rely on works."""
    problems = []
    admin = os.environ.get("SHOP_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    server = urlsplit(admin)
    if shutil.which("psql") is None:
        return ["psql is needed for this check (it is installed with PostgreSQL)"]
    suffix = f"_deploycheck_{os.getpid()}"
    roles = database_roles(root)
    sql = (root / "infra/postgres/01-databases.sql").read_text()
    # Every role and database the script creates gets the suffix, so the check never touches
    # (or collides with) real ones on a shared server.
    role_names = re.findall(r"CREATE ROLE (\w+)", sql)
    database_names = re.findall(r"CREATE DATABASE (\w+)", sql)
    for name in role_names + database_names:
        sql = re.sub(rf"\b{name}\b", name + suffix, sql)

    def psql(url, *args, stdin=None):
        return run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, *args], stdin=stdin)

    def url_for(user, password, database):
        host = f"{server.hostname}:{server.port or 5432}"
        credentials = f"{user}:{password}" if password else user
        return f"postgres://{credentials}@{host}/{database}"

    created = psql(admin, stdin=sql)
    try:
        if created.returncode != 0:
            return [f"01-databases.sql failed: {' '.join(tool_output(created))}"]
        for name, service in compose.get("services", {}).items():
            binary = shop_service_of(service)
            env = compose_env(service)
            if not binary or "SHOP_DATABASE__URL" not in env or service.get("command"):
                continue
            url = urlsplit(env["SHOP_DATABASE__URL"])
            env["SHOP_DATABASE__URL"] = url_for(url.username + suffix, url.password,
                                                url.path.lstrip("/") + suffix)
            clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env}
            migrated = run([str(binaries.bin_dir / f"shop-{binary}"), "migrate"], env=clean)
            if migrated.returncode != 0:
                problems.append(f"shop-{binary} migrate as {url.username}: {tool_output(migrated)[-1]}")
        ordered = sorted(roles)
        if len(ordered) > 1:
            (role, password, _), (_, _, other_db) = ordered[0], ordered[1]
            trespass = psql(url_for(role + suffix, password, other_db + suffix), "-c", "SELECT 1")
            if trespass.returncode == 0:
                problems.append(f"role {role} can connect to database {other_db}: REVOKE CONNECT is missing")
    finally:
        for database in database_names:
            psql(admin, "-c", f"DROP DATABASE IF EXISTS {database}{suffix} WITH (FORCE)")
        for role in role_names:
            psql(admin, "-c", f"DROP ROLE IF EXISTS {role}{suffix}")
    return problems


# --- telemetry --------------------------------------------------------------------------------

def code_metric_names(root):
    names = set()
    for source in list((root / "libs").rglob("*.rs")) + list((root / "services").rglob("*.rs")):
        names.update(re.findall(r'"([a-z][a-z0-9_]*_(?:total|seconds|backlog))"', source.read_text()))
    return names


def promql_metrics(expr):
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", expr)
    found = set()
    for match in re.finditer(r"\b([a-zA-Z_][a-zA-Z0-9_]*)\b(?!\s*\()", expr):
        word = match.group(1)
        if word not in PROMQL_WORDS and not re.fullmatch(r"\d.*", word):
            found.add(word)
    return found


def check_telemetry(root):
    problems = []
    result = run([sys.executable, str(root / "scripts/deploy/dashboards.py"), "--check"])
    if result.returncode != 0:
        problems += tool_output(result)
    exported = code_metric_names(root) | {"up"}
    exprs = []
    for file in (root / "infra/grafana/dashboards").glob("*.json"):
        for panel in json.loads(file.read_text()).get("panels", []):
            exprs += [(file.name, t["expr"]) for t in panel.get("targets", [])]
    alerts = yaml.safe_load((root / "infra/prometheus/alerts.yml").read_text())
    for group in alerts["groups"]:
        for rule in group["rules"]:
            exprs.append((f"alerts.yml {rule.get('alert')}", rule["expr"]))
            for key in ("alert", "expr"):
                if key not in rule:
                    problems.append(f"alerts.yml: a rule in {group['name']} has no {key}")
            if "summary" not in rule.get("annotations", {}) or "severity" not in rule.get("labels", {}):
                problems.append(f"alerts.yml: {rule.get('alert')} needs a severity label and a summary")
    for where, expr in exprs:
        for metric in promql_metrics(expr):
            base = re.sub(r"_(bucket|sum|count)$", "", metric)
            if metric not in exported and base not in exported:
                problems.append(f"{where}: metric {metric} is not exported by any service")
    return problems


# --- main -------------------------------------------------------------------------------------

def validate(root, bin_dir, node_dir, with_postgres=True):
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
    report.stage("hardening", check_hardening(rendered, compose))
    report.stage("routes", check_routes(rendered, root))
    binaries = Binaries(bin_dir)
    report.stage("access", check_access(rendered, binaries))
    compose_problems, _ = check_compose_config(compose, root, binaries)
    report.stage("config", compose_problems + check_k8s_config(rendered, root, binaries))
    if with_postgres:
        report.stage("postgres", check_postgres_init(root, compose, binaries))
    report.stage("telemetry", check_telemetry(root))
    return report


# Each case breaks a copy of the repository and names the stage and words that must report it.
SELF_TEST_CASES = [
    ("a manifest with a field Kubernetes does not have", "k8s/base/order/deployment.yaml",
     "containerPort: 50053", "containerPort: 50053\n              hostPorts: 50053", "k8s-schema", "hostPorts"),
    ("an Istio resource with a misspelt field", "k8s/istio/mesh/virtualservices.yaml",
     "perTryTimeout: 800ms", "perTryTimout: 800ms", "istio", 'unknown field "perTryTimout"'),
    ("a compose file with a key compose does not have", "docker-compose.yml",
     "  inventory-seed:\n", "  inventory-seed:\n    restart_policy: always\n", "compose", "restart_policy"),
    ("a misspelt setting in a ConfigMap", "k8s/base/order/config.env",
     "SHOP_UPSTREAM__INVENTORY=", "SHOP_UPSTREAM__INVENTROY=", "config", "inventroy"),
    ("a compose upstream on the wrong port", "docker-compose.yml",
     "SHOP_UPSTREAM__PAYMENT: http://payment:50054", "SHOP_UPSTREAM__PAYMENT: http://payment:50055",
     "config", "port 50055"),
    ("a container port that is not the one the service listens on", "k8s/base/payment/deployment.yaml",
     "containerPort: 9084", "containerPort: 9085", "config", "port admin is 9085"),
    ("mesh retries on Charge", "k8s/istio/mesh/virtualservices.yaml",
     "exact: /shop.payment.v1.PaymentService/GetPayment",
     "exact: /shop.payment.v1.PaymentService/GetPayment\n        - uri:\n"
     "            exact: /shop.payment.v1.PaymentService/Charge", "routes", "Charge, which is not a read"),
    ("the mesh letting order adjust stock", "k8s/istio/mesh/authorization.yaml",
     "              - /shop.inventory.v1.InventoryService/ReleaseReservation\n",
     "              - /shop.inventory.v1.InventoryService/ReleaseReservation\n"
     "              - /shop.inventory.v1.InventoryService/AdjustStock\n", "access", "AdjustStock"),
    ("the mesh refusing the saga its refunds", "k8s/istio/mesh/authorization.yaml",
     "              - /shop.payment.v1.PaymentService/Refund\n", "", "access", "Refund"),
    ("a writable root filesystem", "k8s/components/service-defaults/deployment.yaml",
     "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "hardening", "readOnlyRootFilesystem"),
    ("an image on :latest", "docker-compose.yml",
     "image: redis:7.4-alpine", "image: redis:latest", "hardening", ":latest"),
    ("a dashboard on a metric nobody exports", "scripts/deploy/dashboards.py",
     '"sum(rate(orders_placed_total[1m]))"', '"sum(rate(orders_shipped_total[1m]))"', "telemetry",
     "orders_shipped_total"),
]


def copy_repo(target):
    for name in ["docker-compose.yml", "Dockerfile", ".dockerignore", "infra", "k8s", "proto", "libs",
                 "services", "scripts/deploy"]:
        source = REPO / name
        dest = target / name
        if source.is_dir():
            shutil.copytree(source, dest, ignore=shutil.ignore_patterns("node_modules", "target"))
        else:
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest)


def self_test(bin_dir, node_dir):
    failed = 0
    for description, file, old, new, stage, words in SELF_TEST_CASES:
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            copy_repo(root)
            path = root / file
            text = path.read_text()
            if old not in text:
                print(f"self-test: cannot apply '{description}': '{old}' not in {file}")
                failed += 1
                continue
            path.write_text(text.replace(old, new, 1))
            if file.endswith("dashboards.py"):
                run([sys.executable, str(path)])
            with contextlib.redirect_stdout(io.StringIO()):
                report = validate(root, bin_dir, node_dir, with_postgres=False)
            messages = report.failures.get(stage, [])
            caught = any(words.lower() in message.lower() for message in messages)
            others = sorted(set(report.failures) - {stage})
            status = "caught" if caught and not others else "MISSED"
            print(f"self-test: {description}: {status} by {stage}"
                  + (f" (also failed: {', '.join(others)})" if others else ""))
            if not caught:
                for message in messages or ["(no message)"]:
                    print(f"      {message}")
            if not caught or others:
                failed += 1
    print(f"self-test: {len(SELF_TEST_CASES) - failed}/{len(SELF_TEST_CASES)} breakages caught")
    return 1 if failed else 0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bin-dir", type=Path, required=True, help="where the shop-* binaries are")
    parser.add_argument("--node-dir", type=Path, default=REPO / "scripts/deploy/istio-check")
    parser.add_argument("--root", type=Path, default=REPO, help="the repository to validate")
    parser.add_argument("--self-test", action="store_true", help="check that known breakages are caught")
    args = parser.parse_args()
    if args.self_test:
        return self_test(args.bin_dir, args.node_dir)
    report = validate(args.root.resolve(), args.bin_dir, args.node_dir)
    if report.failures:
        print(f"deployment validation failed: {', '.join(report.failures)}")
        return 1
    print("deployment files are valid")
    return 0


if __name__ == "__main__":
    sys.exit(main())
