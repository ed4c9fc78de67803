"""Writes k8s/monitoring/prometheusrule.yaml from infra/prometheus/alerts.yml, so that
prometheus-operator users get the same alerts (scripts/validate-deploy.sh checks the two agree).

usage: python3 scripts/deploy/prometheus_rule.py
"""

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
HEADER = """\
# Generated from infra/prometheus/alerts.yml by scripts/deploy/prometheus_rule.py: edit the
# alerts there and run it again. For clusters with prometheus-operator (kustomization.yaml).
# yamllint disable rule:line-length
"""


class _Dumper(yaml.SafeDumper):
    """Indents lists inside mappings, as yamllint's default asks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def main() -> None:
    alerts = yaml.safe_load((ROOT / "infra/prometheus/alerts.yml").read_text())
    rule = {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": "ferris-shop", "labels": {"app.kubernetes.io/name": "ferris-shop"}},
        "spec": {"groups": alerts["groups"]},
    }
    text = yaml.dump(rule, Dumper=_Dumper, sort_keys=False, width=1000)
    (ROOT / "k8s/monitoring/prometheusrule.yaml").write_text(HEADER + text)


if __name__ == "__main__":
    main()
