"""Validates everything that deploys the shop, without a Docker engine or a cluster.

Run through scripts/validate-deploy.sh, which installs the tools first and type-checks this
package (mypy --strict). Stages, one module each:

  yaml        yamllint over docker-compose.yml, infra/ and k8s/                    (tools)
  compose     docker-compose.yml against the compose-spec JSON schema               (tools)
  dockerfile  hadolint                                                              (tools)
  kustomize   every kustomization renders (kubectl kustomize)                       (render)
  k8s-schema  rendered core resources against the Kubernetes 1.31 schemas, unknown
              fields rejected                                                       (tools)
  istio       rendered Istio resources against models of Istio's CRDs, unknown
              fields rejected                                                       (tools)
  hardening   every container: limits, probes, non-root, read-only root fs, no
              privilege escalation, capabilities dropped, seccomp, pinned image tags (hardening)
  routes      mesh retries only on idempotent reads that exist in proto/, a timeout
              on every route                                                        (routes)
  access      the mesh's AuthorizationPolicies admit each caller to exactly the RPCs
              the callee's authorization table opens to it (`shop-<service>
              access-table`), and admit the service a table reserves an RPC for     (access)
  config      every service's environment in compose and Kubernetes is parsed by the
              service binary itself (`check-config`); ports, upstream addresses,
              credentials, Istio ports and Prometheus targets agree with what the
              binaries listen on                                     (compose_config, k8s_config)
  postgres    infra/postgres's databases and roles on a real server: each service
              migrates its database as its own role and cannot open another's       (postgres)
  telemetry   dashboards are generated from scripts/deploy/dashboards.py, and every
              metric they and the alert rules use is one the code exports           (telemetry)

Every stage runs and reports; the exit code is 1 if any failed. `--self-test` breaks copies of
the repository in known ways and checks that each breakage is caught (selftest).
"""
