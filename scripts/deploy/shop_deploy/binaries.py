"""The service binaries as the authority on their own configuration and access tables."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .common import Doc, run, tool_output


def clean_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """Exactly `env`, and a PATH: nothing of the caller's environment leaks in."""
    return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **(env or {})}


@dataclass(frozen=True)
class Parsed:
    """What `shop-<service> check-config` made of an environment: its effective settings, or
    the one line it refused the environment with."""

    settings: Doc | None
    error: str | None


@dataclass
class Binaries:
    """Runs `shop-<service> check-config` and `access-table`; caches what they print."""

    bin_dir: Path
    _settings: dict[tuple[str, tuple[tuple[str, str], ...]], Parsed] = field(default_factory=dict)
    _tables: dict[str, Doc | None] = field(default_factory=dict)

    def path(self, service: str) -> Path:
        return self.bin_dir / f"shop-{service}"

    def settings(self, service: str, env: Mapping[str, str]) -> Parsed:
        key = (service, tuple(sorted(env.items())))
        if key not in self._settings:
            result = run([str(self.path(service)), "check-config"], env=clean_env(env))
            if result.returncode == 0:
                self._settings[key] = Parsed(json.loads(result.stdout), None)
            else:
                self._settings[key] = Parsed(None, " ".join(tool_output(result)))
        return self._settings[key]

    def access_table(self, service: str) -> Doc | None:
        """The service's authorization table (`{"service": ..., "methods": {...}}`), or None."""
        if service not in self._tables:
            result = run([str(self.path(service)), "access-table"], env=clean_env())
            self._tables[service] = json.loads(result.stdout) if result.returncode == 0 else None
        return self._tables[service]
