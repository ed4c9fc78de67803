#!/usr/bin/env bash
# Validates the gateway's OpenAPI document (served at BASE_URL/openapi.json, default
# http://localhost:8080) against the OpenAPI 3.1 specification, with openapi-spec-validator
# from PyPI in a throwaway virtualenv.
set -euo pipefail
source "$(dirname "$0")/dev-env.sh"

venv="${SHOP_TOOLS_VENV:-$HOME/.cache/ferris-shop/venv}"
if [[ ! -x "$venv/bin/openapi-spec-validator" ]]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check openapi-spec-validator
fi

document=$(mktemp --suffix=.json)
trap 'rm -f "$document"' EXIT
url="${BASE_URL:-http://localhost:8080}/openapi.json"
if command -v curl >/dev/null 2>&1; then
  curl -sf "$url" -o "$document" || die "cannot fetch $url (is the shop running?)"
else
  python3 -c "import sys, urllib.request; open(sys.argv[2], 'wb').write(urllib.request.urlopen(sys.argv[1]).read())" "$url" "$document"
fi
"$venv/bin/openapi-spec-validator" "$document"
