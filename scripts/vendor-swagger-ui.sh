#!/usr/bin/env bash
# Refreshes the API explorer's vendored assets (services/gateway/static/vendor/swagger-ui/)
# from the npm package swagger-ui-dist, pinned by version and integrity below. The gateway
# embeds them in its binary, so /docs needs no CDN and no Node.js at build or run time.
#
#   scripts/vendor-swagger-ui.sh          # copy the pinned version's files (npm verifies them)
#   scripts/vendor-swagger-ui.sh --check  # fail if the committed files differ from the package
#
# To move to a newer version: change VERSION and INTEGRITY (`npm view swagger-ui-dist@X
# dist.integrity`), run this, then the browser test (the explorer must load under the CSP).
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

VERSION="5.35.0"
INTEGRITY="sha512-U06rpMtW9V3XPGOBeamTUSr0Z09jMX4IJuANpE/EZbAhw0G8CgwrzU4YmXkn/h0wCDNsXdGarTNNHC3sU8yVUQ=="
# What the explorer needs from the package (the standalone preset and its top bar are left
# out: the page has its own header, and the preset injects an inline <style>).
FILES=(swagger-ui-bundle.js swagger-ui.css LICENSE NOTICE)
DEST="$REPO_ROOT/services/gateway/static/vendor/swagger-ui"

command -v npm >/dev/null 2>&1 || die "npm is needed to fetch swagger-ui-dist"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$VERSION" >/dev/null)
tarball="$work/swagger-ui-dist-$VERSION.tgz"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
[[ "$actual" == "$INTEGRITY" ]] || die "swagger-ui-dist@$VERSION: integrity $actual, expected $INTEGRITY"
tar -xzf "$tarball" -C "$work"

if [[ "${1:-}" == "--check" ]]; then
  for file in "${FILES[@]}"; do
    cmp -s "$work/package/$file" "$DEST/$file" || die "$DEST/$file differs from swagger-ui-dist@$VERSION"
  done
  [[ "$(cat "$DEST/VERSION")" == "$VERSION" ]] || die "$DEST/VERSION is not $VERSION"
  log "vendored swagger-ui-dist@$VERSION matches the package"
  exit 0
fi

mkdir -p "$DEST"
for file in "${FILES[@]}"; do cp "$work/package/$file" "$DEST/$file"; done
echo "$VERSION" >"$DEST/VERSION"
log "vendored swagger-ui-dist@$VERSION into ${DEST#"$REPO_ROOT"/}"
