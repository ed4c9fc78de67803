"""infra/postgres on a real server: each service migrates its database as its own role, and no
role can open another service's database."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

from .binaries import Binaries, clean_env
from .common import Doc, Problems, run, tool_output
from .compose import compose_env, shop_service_of
from .databases import DATABASES_SQL, database_roles


class _Server:
    """The test server, and throwaway copies of infra/postgres's roles and databases on it."""

    def __init__(self, admin_url: str, suffix: str) -> None:
        self.admin_url = admin_url
        self.parts = urlsplit(admin_url)
        self.suffix = suffix

    def psql(
        self, url: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        return run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, *args], stdin=stdin)

    def url(self, user: str, password: str | None, database: str) -> str:
        """A URL for the suffixed copy of `user` and `database`."""
        host = f"{self.parts.hostname}:{self.parts.port or 5432}"
        credentials = f"{user}{self.suffix}:{password}" if password else user + self.suffix
        return f"postgres://{credentials}@{host}/{database}{self.suffix}"


def check_postgres_init(root: Path, compose: Doc, binaries: Binaries) -> Problems:
    """Runs 01-databases.sql on a real server (under throwaway names), migrates every service's
    database as that service's own role, and checks one role cannot open another's database:
    the least-privilege setup compose and the dev overlay rely on works."""
    if shutil.which("psql") is None:
        return ["psql is needed for this check (it is installed with PostgreSQL)"]
    admin = os.environ.get("SHOP_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    server = _Server(admin, f"_deploycheck_{os.getpid()}")
    sql = (root / DATABASES_SQL).read_text()
    # Every role and database the script creates gets the suffix, so the check never touches
    # (or collides with) real ones on a shared server.
    role_names: list[str] = re.findall(r"CREATE ROLE (\w+)", sql)
    database_names: list[str] = re.findall(r"CREATE DATABASE (\w+)", sql)
    for name in role_names + database_names:
        sql = re.sub(rf"\b{name}\b", name + server.suffix, sql)

    problems: Problems = []
    created = server.psql(admin, stdin=sql)
    try:
        if created.returncode != 0:
            return [f"{DATABASES_SQL} failed: {' '.join(tool_output(created))}"]
        for service in compose.get("services", {}).values():
            binary = shop_service_of(service)
            env = compose_env(service)
            if not binary or "SHOP_DATABASE__URL" not in env or service.get("command"):
                continue
            url = urlsplit(env["SHOP_DATABASE__URL"])
            user = url.username or ""
            env["SHOP_DATABASE__URL"] = server.url(user, url.password, url.path.lstrip("/"))
            migrated = run([str(binaries.path(binary)), "migrate"], env=clean_env(env))
            if migrated.returncode != 0:
                problems.append(f"shop-{binary} migrate as {user}: {tool_output(migrated)[-1]}")
        ordered = sorted(database_roles(root), key=lambda role: (role[0] or "", role[2]))
        if len(ordered) > 1:
            (role, password, _), (_, _, other_db) = ordered[0], ordered[1]
            trespass = server.psql(server.url(role or "", password, other_db), "-c", "SELECT 1")
            if trespass.returncode == 0:
                problems.append(
                    f"role {role} can connect to database {other_db}: REVOKE CONNECT is missing"
                )
    finally:
        for database in database_names:
            server.psql(
                admin, "-c", f"DROP DATABASE IF EXISTS {database}{server.suffix} WITH (FORCE)"
            )
        for role_name in role_names:
            server.psql(admin, "-c", f"DROP ROLE IF EXISTS {role_name}{server.suffix}")
    return problems
