"""Pod Security "restricted" for every pod the overlays create, as it runs once Istio injects it:
each pod is checked with the containers the install in k8s/istio/install/istio.yaml adds (the
same fields as Istio's injection template sets for them), so an install that needs privileges
the namespace refuses (the default `istio-init`, which adds NET_ADMIN and NET_RAW) fails here
and not in a stuck rollout. Also: an init container that talks to the network (`migrate`)
needs the proxy running first, which only native sidecars give."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from .common import Doc, Problems, Rendered, pod_spec, where_of

INSTALL = "k8s/istio/install/istio.yaml"
OVERLAYS = ("k8s/overlays/",)

# The securityContext Istio's injection template gives its own containers, by variant.
PROXY_CONTEXT: Doc = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": True,
    "runAsGroup": 1337,
    "runAsNonRoot": True,
    "runAsUser": 1337,
}
# Without the CNI plugin the pod sets up its own traffic capture, as root with network admin.
INIT_WITHOUT_CNI: Doc = {
    "allowPrivilegeEscalation": False,
    "capabilities": {"add": ["NET_ADMIN", "NET_RAW"], "drop": ["ALL"]},
    "privileged": False,
    "readOnlyRootFilesystem": False,
    "runAsGroup": 0,
    "runAsNonRoot": False,
    "runAsUser": 0,
}
# Volume types "restricted" allows.
VOLUME_TYPES = frozenset(
    {
        "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
        "projected", "secret",
    }
)  # fmt: skip
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range", "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout", "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)  # fmt: skip


def install_settings(root: Path) -> tuple[bool, bool, Problems]:
    """(CNI on, native sidecars on) from the install file, and what is missing from it."""
    path = root / INSTALL
    if not path.exists():
        return False, False, [f"{INSTALL}: missing (the README installs Istio with it)"]
    spec: Doc = (yaml.safe_load(path.read_text()) or {}).get("spec", {})
    cni = bool(spec.get("components", {}).get("cni", {}).get("enabled"))
    env: Doc = spec.get("values", {}).get("pilot", {}).get("env", {})
    native = str(env.get("ENABLE_NATIVE_SIDECARS", "")).lower() == "true"
    return cni, native, []


def injected(pod: Doc, cni: bool, native: bool) -> Doc:
    """The pod spec after Istio's injection with these install settings."""
    pod = copy.deepcopy(pod)
    init = {
        "name": "istio-validation" if cni else "istio-init",
        "image": "docker.io/istio/proxyv2",
        "securityContext": PROXY_CONTEXT if cni else INIT_WITHOUT_CNI,
    }
    proxy: Doc = {
        "name": "istio-proxy",
        "image": "docker.io/istio/proxyv2",
        "securityContext": PROXY_CONTEXT,
    }
    if native:
        proxy["restartPolicy"] = "Always"
        pod["initContainers"] = [init, proxy, *pod.get("initContainers", [])]
    else:
        pod["initContainers"] = [init, *pod.get("initContainers", [])]
        pod["containers"] = [*pod.get("containers", []), proxy]
    return pod


def restricted_problems(where: str, pod: Doc) -> Problems:
    """What Pod Security "restricted" (Kubernetes 1.31) refuses in this pod spec."""
    problems: Problems = []
    psc: Doc = pod.get("securityContext", {})
    for field in ("hostNetwork", "hostPID", "hostIPC"):
        if pod.get(field):
            problems.append(f"{where}: {field} is true")
    for volume in pod.get("volumes", []):
        kinds = set(volume) - {"name"}
        if not kinds <= VOLUME_TYPES:
            problems.append(f"{where}: volume {volume['name']} is {', '.join(sorted(kinds))}")
    for sysctl in psc.get("sysctls", []):
        if sysctl.get("name") not in SAFE_SYSCTLS:
            problems.append(f"{where}: sysctl {sysctl.get('name')} is not a safe one")
    containers: list[Any] = pod.get("initContainers", []) + pod.get("containers", [])
    for container in containers:
        sc: Doc = container.get("securityContext", {})
        name = f"{where} container {container['name']}"
        if sc.get("privileged"):
            problems.append(f"{name}: privileged")
        if sc.get("allowPrivilegeEscalation") is not False:
            problems.append(f"{name}: allowPrivilegeEscalation is not false")
        caps: Doc = sc.get("capabilities", {})
        if "ALL" not in caps.get("drop", []):
            problems.append(f"{name}: capabilities do not drop ALL")
        if added := sorted(set(caps.get("add", [])) - {"NET_BIND_SERVICE"}):
            problems.append(f"{name}: adds capabilities {', '.join(added)}")
        non_root = sc.get("runAsNonRoot", psc.get("runAsNonRoot"))
        if non_root is not True:
            problems.append(f"{name}: runAsNonRoot is not true")
        if sc.get("runAsUser", psc.get("runAsUser")) == 0:
            problems.append(f"{name}: runs as user 0")
        seccomp: Doc = sc.get("seccompProfile") or psc.get("seccompProfile") or {}
        if seccomp.get("type") not in ("RuntimeDefault", "Localhost"):
            problems.append(f"{name}: no RuntimeDefault or Localhost seccomp profile")
        for port in container.get("ports", []):
            if port.get("hostPort"):
                problems.append(f"{name}: hostPort {port['hostPort']}")
    return problems


def is_injected(doc: Doc) -> bool:
    annotations: Doc = doc["spec"]["template"].get("metadata", {}).get("annotations", {}) or {}
    return str(annotations.get("sidecar.istio.io/inject", "true")).lower() != "false"


def check_pod_security(rendered: Rendered, root: Path) -> Problems:
    cni, native, problems = install_settings(root)
    if problems:
        return problems
    for path, docs in rendered.items():
        if not path.startswith(OVERLAYS):
            continue
        for doc in docs:
            pod = pod_spec(doc)
            if pod is None:
                continue
            where = where_of(path, doc)
            mesh = is_injected(doc)
            as_run = injected(pod, cni, native) if mesh else pod
            suffix = " (with the Istio injection of " + INSTALL + ")" if mesh else ""
            problems += [p + suffix for p in restricted_problems(where, as_run)]
            if mesh and pod.get("initContainers") and not native:
                problems.append(
                    f"{where}: init container {pod['initContainers'][0]['name']} runs before the"
                    f" Istio proxy and cannot reach the network; set ENABLE_NATIVE_SIDECARS in"
                    f" {INSTALL}"
                )
    return problems
