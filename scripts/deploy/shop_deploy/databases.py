"""The databases and roles infra/postgres creates, and the database URLs deployments give."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from .common import Problems

DATABASES_SQL = "infra/postgres/01-databases.sql"
# (role, password, database) that infra/postgres creates.
Role = tuple[str | None, str | None, str]


def database_roles(root: Path) -> set[Role]:
    sql = (root / DATABASES_SQL).read_text()
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql))
    return {
        (owner, roles.get(owner), db)
        for db, owner in re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql)
    }


def check_database_url(
    where: str, url: str, roles: set[Role] | None, hosts: set[str] | None
) -> Problems:
    problems: Problems = []
    parts = urlsplit(url)
    if hosts is not None and parts.hostname not in hosts:
        problems.append(f"{where}: database host {parts.hostname} is not a service here")
    if roles is not None and (parts.username, parts.password, parts.path.lstrip("/")) not in roles:
        problems.append(
            f"{where}: database role/password/name in SHOP_DATABASE__URL does not match {DATABASES_SQL}"
        )
    return problems
