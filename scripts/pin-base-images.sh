#!/usr/bin/env bash
# Pins the Dockerfile's base images by digest: every `FROM image:tag` (ARG defaults filled in)
# becomes `FROM image:tag@sha256:...`, the digest of the tag's current multi-platform index.
# Needs docker with buildx and a reachable registry; run it when bumping a base image, review
# the diff, commit it. Renovate or Dependabot keep such pins fresh on a forge.
#
#   scripts/pin-base-images.sh           rewrite the Dockerfile
#   scripts/pin-base-images.sh --check   exit 1 if a base image is not pinned
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"
dockerfile="$REPO_ROOT/Dockerfile"

# ARG defaults, for the FROM lines that use them.
declare -A args=()
while IFS='=' read -r name value; do args[$name]=$value; done < <(
  sed -n 's/^ARG \([A-Z_]*\)=\(.*\)$/\1=\2/p' "$dockerfile")
expand() {
  local ref=$1 name
  for name in "${!args[@]}"; do ref=${ref//\$\{$name\}/${args[$name]}}; done
  printf '%s' "$ref"
}

unpinned=0
while read -r ref; do
  [[ $ref == *@sha256:* ]] && continue
  if [[ ${1:-} == --check ]]; then
    echo "not pinned: $ref"; unpinned=1; continue
  fi
  digest=$(docker buildx imagetools inspect "$(expand "$ref")" --format '{{json .Manifest.Digest}}' | tr -d '"')
  [[ $digest == sha256:* ]] || die "no digest for $ref"
  log "$ref -> $digest"
  sed -i "s|^FROM ${ref//|/\\|} |FROM ${ref}@${digest} |" "$dockerfile"
done < <(awk '/^FROM / && $2 !~ /^(chef|planner|cook|builder)$/ {print $2}' "$dockerfile")
exit "$unpinned"
