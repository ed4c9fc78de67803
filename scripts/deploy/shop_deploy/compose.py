"""docker-compose.yml: each shop service's environment parsed by its binary, and its ports,
upstreams, database and broker credentials, and Prometheus targets agreeing with it."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from .binaries import Binaries
from .common import Doc, Problems, env_problems, port_of, public_port, shop_binary_of_image
from .databases import check_database_url, database_roles


def shop_service_of(service: Doc) -> str | None:
    """The shop binary a compose service runs, from its build arg or its image name."""
    build = service.get("build")
    if isinstance(build, dict):
        arg = build.get("args", {}).get("SERVICE")
        if arg:
            return str(arg)
    return shop_binary_of_image(service.get("image", ""))


def compose_env(service: Doc) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def check_compose_config(compose: Doc, root: Path, binaries: Binaries) -> Problems:
    problems: Problems = []
    services: dict[str, Doc] = compose.get("services", {})
    servers: dict[str, Doc] = {}  # compose name -> effective settings of a long-running server
    roles = database_roles(root)
    rabbit_env: Doc = services.get("rabbitmq", {}).get("environment", {})
    rabbit_user = (rabbit_env.get("RABBITMQ_DEFAULT_USER"), rabbit_env.get("RABBITMQ_DEFAULT_PASS"))
    for name, service in services.items():
        binary = shop_service_of(service)
        if not binary:
            continue
        where = f"docker-compose.yml: {name}"
        env = compose_env(service)
        problems += env_problems(where, env)
        parsed = binaries.settings(binary, env)
        if parsed.settings is None:
            problems.append(f"{where}: shop-{binary} rejects its environment: {parsed.error}")
            continue
        settings = parsed.settings
        if not service.get("command"):  # a server, not a one-shot command like `seed`
            servers[name] = settings
        listening = {public_port(settings), port_of(settings["admin"]["addr"])}
        for mapping in service.get("ports", []):
            container_port = int(str(mapping).split(":")[-1].split("/")[0])
            if container_port not in listening:
                problems.append(
                    f"{where}: publishes {container_port}, shop-{binary} listens on {sorted(listening)}"
                )
        if "SHOP_DATABASE__URL" in env:
            problems += check_database_url(where, env["SHOP_DATABASE__URL"], roles, set(services))
        if "SHOP_AMQP__URL" in env:
            amqp = urlsplit(env["SHOP_AMQP__URL"])
            if (amqp.username, amqp.password) != rabbit_user:
                problems.append(
                    f"{where}: SHOP_AMQP__URL credentials are not RabbitMQ's default user"
                )
        if "SHOP_FLAGS__FILE" in env:
            problems += _flag_file_mounted(where, service, env["SHOP_FLAGS__FILE"], root)
        otel = env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        if otel and urlsplit(otel).hostname not in services:
            problems.append(f"{where}: OTEL_EXPORTER_OTLP_ENDPOINT host is not a compose service")
    problems += _upstreams(services, servers)
    problems += _scrape_targets(root, servers)
    return problems


def _flag_file_mounted(where: str, service: Doc, path: str, root: Path) -> Problems:
    """The flag file a service reads comes through a bind mount of a file in the repository
    that parses as JSON with a `flags` object."""
    for volume in service.get("volumes", []):
        source, _, rest = str(volume).partition(":")
        target = rest.split(":")[0].rstrip("/")
        if not path.startswith(target + "/"):
            continue
        host = root / source / path[len(target) + 1 :]
        try:
            flags = json.loads(host.read_text())
        except (OSError, ValueError) as err:
            return [f"{where}: SHOP_FLAGS__FILE {path} is {host}, which cannot be read: {err}"]
        if not isinstance(flags.get("flags"), dict):
            return [f"{where}: {host} has no `flags` object"]
        return []
    return [f"{where}: SHOP_FLAGS__FILE {path} is not in a mounted volume"]


def _upstreams(services: dict[str, Doc], servers: dict[str, Doc]) -> Problems:
    problems: Problems = []
    for name, service in services.items():
        for key, value in compose_env(service).items():
            if not key.startswith("SHOP_UPSTREAM__"):
                continue
            target = urlsplit(value)
            where = f"docker-compose.yml: {name}: {key}"
            callee = servers.get(target.hostname or "")
            if callee is None:
                problems.append(f"{where} points at {target.hostname}, not a shop service")
            elif target.port != public_port(callee):
                problems.append(
                    f"{where} uses port {target.port}, "
                    f"{target.hostname} listens on {public_port(callee)}"
                )
    return problems


def _scrape_targets(root: Path, servers: dict[str, Doc]) -> Problems:
    """Prometheus scrapes each service's admin port under the compose (and Service) name."""
    prometheus = yaml.safe_load((root / "infra/prometheus/prometheus.yml").read_text())
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    return [
        f"infra/prometheus/prometheus.yml: no scrape target {wanted} (admin port of {name})"
        for name, settings in servers.items()
        if (wanted := f"{name}:{port_of(settings['admin']['addr'])}") not in targets
    ]
