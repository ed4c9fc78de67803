#!/usr/bin/env bash
# One customer's checkout through the public API of a running shop, start to end: sign up, sign
# in, pick an in-stock product (waiting up to 5 minutes for the shop to start), place an order with an Idempotency-Key, wait until the saga has
# confirmed it. Fails (exit 1) on any other outcome. Used by .ci/run against scripts/dev-up.sh's
# shop and by the GitHub workflow against `docker compose up`.
#
#   scripts/smoke-checkout.sh [base URL]     (default http://localhost:8080)
set -euo pipefail
base="${1:-http://localhost:8080}"

python3 - "$base" <<'PY'
import json, sys, time, uuid, urllib.error, urllib.request

base = sys.argv[1].rstrip("/")

def call(method, path, body=None, token=None, headers=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("content-type", "application/json")
    if token:
        request.add_header("authorization", f"Bearer {token}")
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    # Sign-in is rate limited per client address (20 a minute): a shop that other tests have
    # just used may answer 429 for a few seconds; a client waits as Retry-After says and
    # tries again.
    deadline = time.monotonic() + 90
    while True:
        try:
            with urllib.request.urlopen(request, timeout=15) as answer:
                return answer.status, json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as err:
            if err.code == 429 and time.monotonic() < deadline:
                wait = err.headers.get("retry-after", "5")
                time.sleep(min(float(wait) if wait.isdigit() else 5.0, 30.0))
                continue
            sys.exit(f"smoke: {method} {path} answered {err.code}: {err.read().decode()[:300]}")

def wait_for_catalog(within):
    """The shop may still be starting (compose): wait for a product in stock."""
    deadline = time.monotonic() + within
    while True:
        try:
            with urllib.request.urlopen(base + "/api/v1/products?page_size=100", timeout=5) as answer:
                page = json.loads(answer.read())
            found = next((p for p in page["items"] if p["active"] and p["available"] > 0), None)
            if found is not None:
                return found
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            sys.exit(f"smoke: no product in stock at {base} within {within} s (is the catalog seeded?)")
        time.sleep(2)

product = wait_for_catalog(300)
email = f"smoke-{uuid.uuid4().hex[:12]}@example.com"
password = "a smoke test's password"
status, _ = call("POST", "/api/v1/auth/register", {"email": email, "password": password, "name": "Smoke"})
assert status == 202, status
_, tokens = call("POST", "/api/v1/auth/login", {"email": email, "password": password})
token = tokens["access_token"]
# The checkout a shopper makes: the product into the cart, a shipping quote, the cart ordered
# at the quoted total.
status, cart = call("PUT", f"/api/v1/cart/items/{product['id']}", {"quantity": 1}, token=token)
assert status == 200 and cart["item_count"] == 1, (status, cart)
status, quote = call("GET", "/api/v1/shipping/options?country=IE", token=token)
assert status == 200, (status, quote)
standard = next(o for o in quote["options"] if o["method"] == "standard")
expected = {"amount_minor": quote["subtotal"]["amount_minor"] + standard["price"]["amount_minor"],
            "currency": quote["subtotal"]["currency"]}
address = {"name": "Smoke Test", "line1": "1 Crab Lane", "city": "Dublin",
           "postal_code": "D02 X285", "country": "IE"}
status, order = call("POST", "/api/v1/orders",
                     {"card_token": "tok_visa", "shipping_address": address,
                      "shipping_method": "standard", "expected_total": expected},
                     token=token, headers={"idempotency-key": str(uuid.uuid4())})
deadline = time.monotonic() + 60
while order["status"] not in ("CONFIRMED", "REJECTED", "CANCELLED") and time.monotonic() < deadline:
    time.sleep(0.5)
    _, order = call("GET", f"/api/v1/orders/{order['id']}", token=token)
if order["status"] != "CONFIRMED":
    sys.exit(f"smoke: order {order['id']} ended {order['status']} ({order.get('reason')})")
total = order["total"]
assert total == expected, (total, expected)
_, cart = call("GET", "/api/v1/cart", token=token)
assert cart["item_count"] == 0, f"smoke: the cart was not emptied by the confirmed order: {cart}"
print(f"smoke: order {order['id']} for 1 x {product['name']} from the cart CONFIRMED,"
      f" {total['amount_minor']} {total['currency']} minor units charged (shipping included)")
PY
