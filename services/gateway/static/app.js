// Ferris Shop storefront: plain JavaScript over the gateway's REST API, no build step.
// Views are selected by the URL hash (#/, #/cart, #/orders, #/orders/<id>, #/login, #/register).
"use strict";

const main = document.getElementById("main");
const flash = document.getElementById("flash");
const CARDS = [
  ["tok_visa", "Visa ending 4242 (approved)"],
  ["tok_mastercard", "Mastercard ending 4444 (approved)"],
  ["tok_declined", "Card that is declined"],
  ["tok_insufficient_funds", "Card with insufficient funds"],
];

// ---- Session: the access token lives in this page's memory only; the refresh token is an
// HttpOnly cookie scoped to /api/v1/auth that no script can read. The page renews the access
// token with the cookie when it loads and when the token expires (the X-Shop-CSRF header
// proves the request comes from a page of the shop: another site cannot send it).

const session = {
  access: null,
  save(tokens) { this.access = tokens.access_token; },
  clear() { this.access = null; },
  get signedIn() { return Boolean(this.access); },
  // The roles the access token carries (its payload is not secret; the services check it).
  get admin() {
    if (!this.access) return false;
    try {
      const payload = this.access.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return (JSON.parse(atob(payload)).roles || []).includes("admin");
    } catch (_) {
      return false;
    }
  },
  // Each renewal spends the cookie's refresh token and sets the next one, and a token spent
  // twice ends the session: tabs of the shop take turns (the Web Locks API), so two tabs opened
  // at once do not present the same token.
  renew() {
    const once = async () => {
      const renewed = await fetch("/api/v1/auth/refresh", {
        method: "POST",
        headers: { "content-type": "application/json", "x-shop-csrf": "1" },
        body: "{}",
      });
      if (!renewed.ok) {
        this.clear();
        return false;
      }
      this.save(await renewed.json());
      return true;
    };
    return navigator.locks ? navigator.locks.request("shop-session-renewal", once) : once();
  },
};

async function api(method, path, body, headers = {}) {
  const send = () => fetch(path, {
    method,
    headers: {
      ...(body === undefined ? {} : { "content-type": "application/json" }),
      ...(session.access ? { authorization: `Bearer ${session.access}` } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let response = await send();
  if (response.status === 401 && session.signedIn && !path.startsWith("/api/v1/auth/")) {
    if (await session.renew()) {
      response = await send();
    } else {
      renderAccount();
    }
  }
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const error = new Error(describeProblem(data, response.status));
    error.status = response.status;
    error.problem = data;
    throw error;
  }
  return { status: response.status, data };
}

function describeProblem(problem, status) {
  if (!problem) return `The shop answered ${status}.`;
  const fields = (problem.errors || []).map((e) => `${e.field} ${e.message}`).join("; ");
  return [problem.title, problem.detail, fields].filter(Boolean).join(": ");
}

// ---- Cart. A guest's lives in this browser (localStorage: product id -> {product, quantity},
// prices as they were when added). A signed-in customer's is the shop's (/api/v1/cart): the same
// on every device, shown at today's prices. Signing in merges the guest's cart into the account's.

const MAX_UNITS = 99;

const guestCart = {
  load() { return JSON.parse(localStorage.getItem("cart") || "{}"); },
  save(items) { localStorage.setItem("cart", JSON.stringify(items)); renderCartCount(); },
  clear() { this.save({}); },
};

const cart = {
  // The account's cart as the shop last answered it; null when signed out or not read yet.
  server: null,
  count() {
    if (session.signedIn) return this.server ? this.server.item_count : 0;
    return Object.values(guestCart.load()).reduce((n, line) => n + line.quantity, 0);
  },
  remember(data) { this.server = data; renderCartCount(); return data; },
  async refresh() {
    return session.signedIn ? this.remember((await api("GET", "/api/v1/cart")).data) : null;
  },
  async add(product) {
    if (!session.signedIn) {
      const items = guestCart.load();
      const line = items[product.id] || { product, quantity: 0 };
      line.quantity = Math.min(line.quantity + 1, Math.max(product.available, 1), MAX_UNITS);
      line.product = product;
      items[product.id] = line;
      guestCart.save(items);
      return;
    }
    const line = this.server && this.server.items.find((l) => l.product_id === product.id);
    await this.set(product.id, Math.min((line ? line.quantity : 0) + 1, MAX_UNITS));
  },
  async set(id, quantity) {
    quantity = Math.max(0, Math.min(quantity, MAX_UNITS));
    if (!session.signedIn) {
      const items = guestCart.load();
      if (quantity === 0) delete items[id]; else items[id].quantity = quantity;
      guestCart.save(items);
      return;
    }
    this.remember((await api("PUT", `/api/v1/cart/items/${encodeURIComponent(id)}`, { quantity })).data);
  },
  // After signing in: the guest's lines go into the account's cart, then leave this browser.
  async merge() {
    const items = Object.values(guestCart.load())
      .map((l) => ({ product_id: l.product.id, quantity: Math.min(l.quantity, MAX_UNITS) }));
    if (!items.length) return this.refresh();
    this.remember((await api("POST", "/api/v1/cart/merge", { items })).data);
    guestCart.clear();
    return this.server;
  },
  forget() { this.server = null; renderCartCount(); },
};

// ---- Rendering helpers.

function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (value !== undefined && value !== null && value !== false) node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function money(m) {
  if (!m) return "";
  return new Intl.NumberFormat("en-IE", { style: "currency", currency: m.currency }).format(m.amount_minor / 100);
}

// Each route() starts a new view; a view whose answer arrives after the customer moved on must
// not draw over the view that replaced it.
let views = 0;
const stale = (view) => view !== views;

function show(...nodes) {
  main.replaceChildren(...nodes.filter((node) => node !== null && node !== undefined));
  main.focus();
}

function say(message, kind = "info") {
  flash.textContent = message;
  flash.className = `flash ${kind === "error" ? "error" : ""}`;
}

function renderCartCount() {
  document.getElementById("cart-count").textContent = cart.count();
}

function renderAccount() {
  document.getElementById("nav-admin").hidden = !session.admin;
  const slot = document.getElementById("nav-account");
  slot.replaceChildren(session.signedIn
    ? el("button", { class: "secondary", type: "button", onclick: logout }, "Log out")
    : el("a", { href: "#/login" }, "Log in"));
}

// ---- Views.

const addButton = (product) => el("button", {
  type: "button",
  disabled: product.available <= 0,
  "aria-label": `Add ${product.name} to cart`,
  onclick: async () => {
    try {
      await cart.add(product);
      say(`${product.name} is in your cart.`);
    } catch (error) {
      say(error.message, "error");
    }
  },
}, "Add to cart");

const stockText = (product) => (product.available > 0 ? `${product.available} in stock` : "Sold out");

function productCard(product) {
  const page = `#/products/${product.id}`;
  return el("article", { class: "card", "data-product": product.name },
    el("a", { href: page, tabindex: -1 },
      el("img", { src: product.image_url || "/static/favicon.svg", alt: "", loading: "lazy", width: 400, height: 300 })),
    el("div", { class: "body" },
      el("h2", {}, el("a", { href: page, class: "plain" }, product.name)),
      el("p", {}, product.description),
      el("div", { class: "row" },
        el("span", { class: "price" }, money(product.price)),
        el("span", { class: "stock" }, stockText(product))),
      addButton(product)));
}

// A list a page at a time: `load(token)` fetches a page, hands its items to `append` and arms
// the "More" button for the next page; it answers the page, or null when the customer moved on.
function pager(view, more, fetchPage, append) {
  const load = async (token) => {
    const { data } = await fetchPage(token);
    if (stale(view)) return null;
    append(data.items);
    more.hidden = !data.next_page_token;
    more.onclick = async () => {
      more.disabled = true;
      try {
        await load(data.next_page_token);
      } catch (error) {
        say(error.message, "error");
      }
      more.disabled = false;
    };
    return data;
  };
  return load;
}

// The catalog, a page at a time, by name or by price: "More products" fetches the next page of
// the same listing (a page token continues only the order it was issued for).
const SORTS = [["name", "Name"], ["price_asc", "Price: low to high"], ["price_desc", "Price: high to low"]];

function catalogHash(query, sort) {
  const params = new URLSearchParams();
  if (query) params.set("q", query);
  if (sort && sort !== "name") params.set("sort", sort);
  const text = params.toString();
  return text ? `#/?${text}` : "#/";
}

async function shopView(query = "", sort = "name") {
  if (!SORTS.some(([value]) => value === sort)) sort = "name";
  const title = query ? `Results for “${query}”` : "Products";
  show(el("h1", {}, title), el("p", { "aria-busy": "true" }, "Loading…"));
  const grid = el("div", { class: "grid" });
  const more = el("button", { type: "button", class: "secondary", id: "more-products" }, "More products");
  const order = el("label", { class: "filter" }, "Sort by ",
    el("select", { id: "sort", onchange: (event) => { location.hash = catalogHash(query, event.target.value); } },
      SORTS.map(([value, label]) => el("option", { value, selected: value === sort }, label))));
  const view = views;
  const load = pager(view, more, (token) => {
    const params = new URLSearchParams({ page_size: "24" });
    if (query) params.set("q", query);
    if (sort !== "name") params.set("sort", sort);
    if (token) params.set("page_token", token);
    return api("GET", `/api/v1/products?${params}`);
  }, (items) => grid.append(...items.map(productCard)));
  try {
    const first = await load(null);
    if (!first) return;
    show(el("div", { class: "heading-row" }, el("h1", {}, title), order),
      first.items.length ? grid : el("p", {}, "Nothing matches."),
      el("p", { class: "more" }, more));
  } catch (error) {
    say(error.message, "error");
  }
}

async function productView(id) {
  show(el("p", { "aria-busy": "true" }, "Loading…"));
  const view = views;
  try {
    const { data: product } = await api("GET", `/api/v1/products/${encodeURIComponent(id)}`);
    if (stale(view)) return;
    show(el("p", {}, el("a", { href: "#/" }, "← All products")),
      el("div", { class: "panel product" },
        el("img", { src: product.image_url || "/static/favicon.svg", alt: "", width: 400, height: 300 }),
        el("div", { class: "stack" },
          el("h1", {}, product.name),
          el("p", {}, product.description),
          el("p", { class: "price" }, money(product.price)),
          el("p", { class: "stock" }, product.active ? stockText(product) : "No longer sold"),
          product.active ? addButton(product) : null)));
  } catch (error) {
    say(error.message, "error");
  }
}

function emptyCart() {
  show(el("h1", {}, "Your cart"), el("p", {}, "The cart is empty. ", el("a", { href: "#/" }, "Browse the shop.")));
}

function quantityControls(id, name, quantity, rerender) {
  const change = (to) => async () => {
    try {
      await cart.set(id, to);
      rerender();
    } catch (error) {
      say(error.message, "error");
    }
  };
  return el("span", { class: "qty" },
    el("button", { type: "button", class: "secondary", "aria-label": `One less ${name}`, onclick: change(quantity - 1) }, "−"),
    el("span", { "aria-label": "quantity" }, quantity),
    el("button", { type: "button", class: "secondary", "aria-label": `One more ${name}`, disabled: quantity >= MAX_UNITS, onclick: change(quantity + 1) }, "+"),
    el("button", { type: "button", class: "secondary", "aria-label": `Remove ${name}`, onclick: change(0) }, "Remove"));
}

const cartHead = () => el("thead", {}, el("tr", {},
  el("th", { scope: "col" }, "Product"), el("th", { scope: "col" }, "Quantity"),
  el("th", { scope: "col" }, "Price"), el("th", { scope: "col" }, "Subtotal")));

// A guest sees the prices from when they added each product; the shop's are shown on signing in.
function guestCartView() {
  const lines = Object.values(guestCart.load());
  if (!lines.length) return emptyCart();
  const currency = lines[0].product.price.currency;
  const rows = lines.map((line) => el("tr", {},
    el("td", {}, line.product.name),
    el("td", {}, quantityControls(line.product.id, line.product.name, line.quantity, guestCartView)),
    el("td", {}, money(line.product.price)),
    el("td", {}, money({ amount_minor: line.product.price.amount_minor * line.quantity, currency }))));
  show(el("h1", {}, "Your cart"),
    el("div", { class: "panel" }, el("table", {}, cartHead(), el("tbody", {}, rows))),
    el("div", { class: "panel" }, el("p", {}, el("a", { href: "#/login" }, "Log in"),
      " to check out. Your cart comes with you, at today's prices.")));
}

async function cartView() {
  if (!session.signedIn) return guestCartView();
  show(el("h1", {}, "Your cart"), el("p", { "aria-busy": "true" }, "Loading…"));
  let data;
  const view = views;
  try {
    data = await cart.refresh();
    if (stale(view)) return;
  } catch (error) {
    say(error.message, "error");
    return;
  }
  if (!data.items.length) return emptyCart();
  const notices = (line) => [
    line.price_changed
      ? el("div", { class: "notice" }, `Price changed from ${money(line.seen_price)} to ${money(line.unit_price)}.`)
      : null,
    !line.active ? el("div", { class: "notice" }, "No longer sold: remove it to check out.") : null,
    line.active && line.quantity > line.available
      ? el("div", { class: "notice" }, line.available > 0 ? `Only ${line.available} left in stock.` : "Sold out for now.")
      : null,
  ];
  const rows = data.items.map((line) => {
    const name = line.name || "A product no longer in the catalog";
    return el("tr", { "data-product": name },
      el("td", {}, name, notices(line)),
      el("td", {}, quantityControls(line.product_id, name, line.quantity, cartView)),
      el("td", {}, money(line.unit_price)),
      el("td", {}, money(line.line_total)));
  });
  const changed = data.items.filter((l) => l.price_changed);
  const blocked = data.items.some((l) => !l.active);
  // A moved price is never charged silently: the customer accepts it (setting a line again is
  // seeing its price) before the order can be placed.
  const accept = async () => {
    try {
      for (const line of changed) await cart.set(line.product_id, line.quantity);
      cartView();
    } catch (error) {
      say(error.message, "error");
    }
  };
  const blockedNotice = blocked ? el("p", { class: "notice" }, "Remove what is no longer sold to check out.") : null;
  show(el("h1", {}, "Your cart"),
    el("div", { class: "panel" }, el("table", {}, cartHead(), el("tbody", {}, rows)),
      el("p", { class: "price" }, `Subtotal ${money(data.subtotal)}`)),
    el("div", { class: "panel" },
      changed.length
        ? el("p", { class: "notice", role: "status" }, "Some prices changed since you added them. ",
            el("button", { type: "button", class: "secondary", onclick: accept }, "Accept the new prices"))
        : checkoutForm(data, blocked),
      blockedNotice));
}

// Where the shop ships most often; the API takes any ISO 3166-1 alpha-2 code.
const COUNTRIES = [
  ["IE", "Ireland"], ["GB", "United Kingdom"], ["DE", "Germany"], ["FR", "France"], ["ES", "Spain"],
  ["IT", "Italy"], ["NL", "Netherlands"], ["BE", "Belgium"], ["PT", "Portugal"], ["AT", "Austria"],
  ["PL", "Poland"], ["SE", "Sweden"], ["DK", "Denmark"], ["FI", "Finland"], ["CZ", "Czechia"],
  ["CH", "Switzerland"], ["NO", "Norway"], ["US", "United States"], ["CA", "Canada"],
  ["AU", "Australia"], ["NZ", "New Zealand"], ["JP", "Japan"],
];

// The address and shipping step: the quote for the chosen country, the total it makes, the card.
function checkoutForm(data, blocked) {
  const field = (label, name, attributes = {}) =>
    el("label", {}, label, el("input", { name, id: `ship-${name}`, maxlength: 100, ...attributes }));
  const country = el("select", { name: "country", id: "ship-country", onchange: () => quoteFor(country.value) },
    COUNTRIES.map(([code, name]) => el("option", { value: code }, name)));
  const methods = el("fieldset", { class: "methods", id: "shipping-methods" }, el("legend", {}, "Shipping"), el("p", {}, "Loading the quote…"));
  const cardSelect = el("select", { id: "card", name: "card" }, CARDS.map(([value, label]) => el("option", { value }, label)));
  const place = el("button", { type: "submit", id: "place-order", disabled: true }, "Place order");
  let quote = null;
  const total = () => {
    const chosen = methods.querySelector("input[name=method]:checked");
    const option = quote && chosen && quote.options.find((o) => o.method === chosen.value);
    if (!option) return null;
    return { amount_minor: quote.subtotal.amount_minor + option.price.amount_minor, currency: quote.subtotal.currency };
  };
  const showTotal = () => {
    const sum = total();
    place.disabled = blocked || !sum;
    place.textContent = sum ? `Place order (${money(sum)})` : "Place order";
  };
  async function quoteFor(code) {
    try {
      ({ data: quote } = await api("GET", `/api/v1/shipping/options?country=${encodeURIComponent(code)}`));
    } catch (error) {
      say(error.message, "error");
      return;
    }
    const days = (o) => (o.min_days === o.max_days ? `${o.min_days} working day${o.min_days > 1 ? "s" : ""}` : `${o.min_days}–${o.max_days} working days`);
    methods.replaceChildren(el("legend", {}, "Shipping"), ...quote.options.map((o, i) => el("label", { class: "method" },
      el("input", { type: "radio", name: "method", value: o.method, checked: i === 0, onchange: showTotal }),
      `${o.method === "express" ? "Express" : "Standard"}: ${o.price.amount_minor === 0 ? "free" : money(o.price)}, ${days(o)}`)));
    showTotal();
  }
  quoteFor(country.value);
  return el("form", { class: "stack", id: "checkout", onsubmit: (event) => checkout(event, total()) },
    el("h2", {}, "Delivery"),
    field("Full name", "name", { autocomplete: "name", required: true }),
    field("Address", "line1", { autocomplete: "address-line1", required: true }),
    field("Address line 2 (optional)", "line2", { autocomplete: "address-line2" }),
    field("City", "city", { autocomplete: "address-level2", required: true }),
    field("Postal code", "postal_code", { autocomplete: "postal-code", required: true, maxlength: 16 }),
    el("label", {}, "Country", country),
    methods,
    el("label", { for: "card" }, "Pay with", cardSelect,
      el("span", { class: "hint" }, "Test cards only: no real card numbers are ever accepted.")),
    place);
}

async function checkout(event, expectedTotal) {
  event.preventDefault();
  const form = new FormData(event.target);
  const button = document.getElementById("place-order");
  button.disabled = true;
  const shipping_address = Object.fromEntries(["name", "line1", "line2", "city", "postal_code", "country"]
    .map((key) => [key, String(form.get(key) || "").trim()]));
  // One key per checkout attempt: a double click or a retry after a network error places one order.
  const key = sessionStorage.getItem("checkout_key") || crypto.randomUUID();
  sessionStorage.setItem("checkout_key", key);
  try {
    // No items: the shop orders the cart as it holds it, at the total the customer was shown.
    const { data } = await api("POST", "/api/v1/orders", {
      card_token: form.get("card"),
      shipping_address,
      shipping_method: form.get("method"),
      expected_total: expectedTotal,
    }, { "idempotency-key": key });
    sessionStorage.removeItem("checkout_key");
    sessionStorage.setItem("refresh_cart_after", data.id);
    location.hash = `#/orders/${data.id}`;
  } catch (error) {
    say(error.message, "error");
    // A moved price: show the cart as it is now, for the customer to accept.
    if (error.problem && error.problem.type && error.problem.type.endsWith("/price-changed")) cartView();
    else button.disabled = false;
  }
}

const STATUSES = ["PENDING", "RESERVED", "CONFIRMED", "REJECTED", "CANCELLED", "SHIPPED", "DELIVERED"];

// A customer's own orders; for an admin, every customer's (the back office's order list), with
// filters by status, customer and the days it was placed (UTC), fifty at a time.
function ordersFilters(hash) {
  const params = new URLSearchParams(hash.split("?")[1] || "");
  return {
    status: params.get("status") || "",
    customer: params.get("customer") || "",
    from: params.get("from") || "",
    to: params.get("to") || "",
  };
}

function ordersHash(filters) {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value);
  const text = params.toString();
  return text ? `#/orders?${text}` : "#/orders";
}

// The API's query for the filters: days become instants, the last day included.
function ordersQuery(filters, token) {
  const params = new URLSearchParams({ page_size: "50" });
  if (filters.status) params.set("status", filters.status);
  if (filters.customer) params.set("customer_id", filters.customer);
  if (filters.from) params.set("placed_from", `${filters.from}T00:00:00Z`);
  if (filters.to) {
    const next = new Date(`${filters.to}T00:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    params.set("placed_before", next.toISOString());
  }
  if (token) params.set("page_token", token);
  return `/api/v1/orders?${params}`;
}

// Customers filter their orders by status; admins also by customer and by the days placed.
function ordersFilterForm(filters) {
  const submit = (event) => {
    event.preventDefault();
    const f = new FormData(event.currentTarget.form || event.currentTarget);
    location.hash = ordersHash({
      status: f.get("status"),
      customer: (f.get("customer") || "").trim(),
      from: f.get("from") || "",
      to: f.get("to") || "",
    });
  };
  const status = el("label", {}, "Status", el("select", { name: "status", id: "status-filter", onchange: submit },
    el("option", { value: "" }, "Any"),
    STATUSES.map((s) => el("option", { value: s, selected: s === filters.status }, s))));
  const admin = session.admin ? [
    el("label", {}, "Customer id", el("input", { name: "customer", value: filters.customer, placeholder: "any customer", pattern: "[0-9a-fA-F-]{36}", title: "a customer id (UUID)" })),
    el("label", {}, "Placed from (UTC)", el("input", { name: "from", type: "date", value: filters.from })),
    el("label", {}, "to", el("input", { name: "to", type: "date", value: filters.to })),
    el("button", { type: "submit", class: "secondary" }, "Filter"),
    el("a", { href: "#/orders" }, "Clear"),
  ] : [];
  return el("form", { class: "filters", id: "order-filters", onsubmit: submit }, status, admin);
}

async function ordersView(filters = {}) {
  if (!session.signedIn) { location.hash = "#/login"; return; }
  const title = session.admin ? "All orders" : "Your orders";
  show(el("h1", {}, title), el("p", {}, "Loading…"));
  const view = views;
  const body = el("tbody", {});
  const more = el("button", { type: "button", class: "secondary", id: "more-orders" }, "More orders");
  const row = (order) => el("tr", {},
    el("td", {}, el("a", { href: `#/orders/${order.id}` }, new Date(order.created_at).toLocaleString())),
    el("td", {}, el("span", { class: `badge ${order.status}` }, order.status)),
    session.admin
      ? el("td", {}, el("a", { href: ordersHash({ ...filters, customer: order.customer_id }), title: "Only this customer's orders" },
          el("code", { class: "customer" }, order.customer_id.slice(0, 8))))
      : null,
    el("td", {}, order.items.map((i) => `${i.quantity} × ${i.name || "item"}`).join(", ")),
    el("td", {}, money(order.total)));
  const load = pager(view, more, (token) => api("GET", ordersQuery(filters, token)),
    (items) => body.append(...items.map(row)));
  try {
    const first = await load(null);
    if (!first) return;
    const filtered = Object.values(filters).some(Boolean);
    const heads = ["Placed", "Status", session.admin ? "Customer" : null, "Items", "Total"].filter(Boolean);
    show(el("h1", {}, title), ordersFilterForm(filters), first.items.length
      ? el("div", { class: "panel" }, el("table", { id: "orders" },
          el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))), body),
          el("p", { class: "more" }, more))
      : el("p", {}, filtered ? "No orders match." : "No orders yet."));
  } catch (error) {
    say(error.message, "error");
  }
}

let polling = null;

async function orderView(id) {
  if (!session.signedIn) { location.hash = "#/login"; return; }
  clearTimeout(polling);
  try {
    const view = views;
    const { data: order } = await api("GET", `/api/v1/orders/${encodeURIComponent(id)}`);
    if (stale(view)) return;
    const inFlight = order.status === "PENDING" || order.status === "RESERVED";
    // The shop empties the cart when the order is confirmed (a declined card keeps it).
    if (!inFlight && sessionStorage.getItem("refresh_cart_after") === order.id) {
      sessionStorage.removeItem("refresh_cart_after");
      await cart.refresh();
    }
    show(
      el("h1", {}, "Order ", el("span", { class: `badge ${order.status}`, id: "order-status" }, order.status)),
      el("div", { class: "panel" },
        order.reason ? el("p", {}, `Reason: ${order.reason}`) : null,
        el("table", {}, el("tbody", {}, order.items.map((i) => el("tr", {},
          el("td", {}, i.name || i.product_id), el("td", {}, `× ${i.quantity}`), el("td", {}, money(i.unit_price)))))),
        order.shipping_address ? el("p", { id: "ship-to" }, "Ships ", order.shipping_method || "", " to ",
          [order.shipping_address.name, order.shipping_address.line1, order.shipping_address.line2,
            `${order.shipping_address.postal_code} ${order.shipping_address.city}`, order.shipping_address.country]
            .filter(Boolean).join(", ")) : null,
        order.subtotal ? el("p", {}, `Subtotal ${money(order.subtotal)}`) : null,
        order.shipping ? el("p", {}, `Shipping ${order.shipping.amount_minor === 0 ? "free" : money(order.shipping)}`) : null,
        el("p", { class: "price" }, `Total ${money(order.total)}`),
        order.tracking_number
          ? el("p", { id: "tracking" }, `Shipped with ${order.carrier}, tracking number ${order.tracking_number}`)
          : null,
        order.status === "CONFIRMED"
          ? el("button", { type: "button", class: "secondary", onclick: () => cancel(order.id) }, "Cancel order")
          : null),
      session.admin ? fulfilmentPanel(order) : null,
      el("div", { class: "panel" }, el("h2", {}, "Timeline"),
        el("ol", { class: "timeline" }, order.timeline.map((entry) => el("li", {},
          el("time", { datetime: entry.at }, new Date(entry.at).toLocaleTimeString()),
          el("strong", {}, entry.event.replaceAll("_", " ")), entry.detail ? ` — ${entry.detail}` : "")))));
    // Checkout may finish after the request answered (202): watch it to the end. A cancelled
    // order keeps changing too, until its refund arrives.
    const refunded = order.timeline.some((e) => e.event === "refunded");
    if (inFlight || (order.status === "CANCELLED" && !refunded)) {
      polling = setTimeout(() => { if (location.hash === `#/orders/${id}`) orderView(id); }, 1000);
    }
  } catch (error) {
    say(error.message, "error");
  }
}

// The back office's part of an order page: ship a confirmed order, deliver a shipped one.
function fulfilmentPanel(order) {
  const act = async (path, body) => {
    try {
      await api("POST", `/api/v1/orders/${encodeURIComponent(order.id)}/${path}`, body);
      orderView(order.id);
    } catch (error) {
      say(error.message, "error");
    }
  };
  if (order.status === "CONFIRMED") {
    const form = el("form", { class: "stack", onsubmit: (event) => {
      event.preventDefault();
      const data = new FormData(event.target);
      act("ship", { carrier: data.get("carrier"), tracking_number: data.get("tracking_number") });
    } },
      el("label", {}, "Carrier", el("input", { name: "carrier", required: true, maxlength: 50 })),
      el("label", {}, "Tracking number", el("input", { name: "tracking_number", required: true, maxlength: 64 })),
      el("button", { type: "submit" }, "Ship"));
    return el("div", { class: "panel" }, el("h2", {}, "Fulfilment"), form);
  }
  if (order.status === "SHIPPED") {
    return el("div", { class: "panel" }, el("h2", {}, "Fulfilment"),
      el("button", { type: "button", onclick: () => act("deliver") }, "Mark delivered"));
  }
  return null;
}

// The back office's catalog, off-sale products included: add a product, edit its name,
// description, picture and price, take it off sale or put it back, receive or write off stock;
// what runs low is listed first.
const LOW_STOCK = 5;

async function productsAdminView() {
  show(el("h1", {}, "Products"), el("p", { "aria-busy": "true" }, "Loading…"));
  const view = views;
  const products = [];
  try {
    let token = null;
    do {
      const { data } = await api("GET", `/api/v1/products?page_size=100&include_inactive=true${token ? `&page_token=${encodeURIComponent(token)}` : ""}`);
      products.push(...data.items);
      token = data.next_page_token;
    } while (token);
  } catch (error) {
    say(error.message, "error");
    return;
  }
  if (stale(view)) return;
  const act = async (request, done) => {
    try {
      await request();
      say(done);
      productsAdminView();
    } catch (error) {
      say(error.message, "error");
    }
  };
  const euros = (text) => Math.round(parseFloat(String(text).replace(",", ".")) * 100);
  const row = (p) => {
    const price = el("input", { type: "number", min: "0.01", step: "0.01", value: (p.price.amount_minor / 100).toFixed(2), "aria-label": `Price of ${p.name}` });
    const delta = el("input", { type: "number", step: "1", value: "10", "aria-label": `Stock change for ${p.name}` });
    const edit = el("details", { class: "edit" }, el("summary", {}, "Edit"),
      el("form", { "aria-label": `Edit ${p.name}`, onsubmit: (event) => {
        event.preventDefault();
        const f = new FormData(event.target);
        const name = f.get("name").trim();
        act(() => api("PATCH", `/api/v1/products/${p.id}`, { name, description: f.get("description"), image_url: f.get("image_url").trim() }),
          `${name} is saved.`);
      } },
        el("label", {}, "Name", el("input", { name: "name", required: true, maxlength: 200, value: p.name })),
        el("label", {}, "Description", el("textarea", { name: "description", maxlength: 5000, rows: 3 }, p.description)),
        el("label", {}, "Picture (a path on this site)", el("input", { name: "image_url", maxlength: 2048, value: p.image_url, pattern: "(/[A-Za-z0-9._~%\\-][A-Za-z0-9._~%/\\-]*)?" })),
        el("button", { type: "submit" }, "Save changes")));
    return el("tr", { "data-product": p.name, class: p.active ? "" : "off-sale" },
      el("td", {}, el("a", { href: `#/products/${p.id}` }, p.name), edit),
      el("td", {}, el("span", { class: "qty" }, price,
        el("button", { type: "button", class: "secondary", onclick: () => act(
          () => api("PATCH", `/api/v1/products/${p.id}`, { price: { amount_minor: euros(price.value), currency: "EUR" } }),
          `${p.name} now costs ${price.value}.`) }, "Save"))),
      el("td", { class: p.available <= LOW_STOCK ? "low" : "" }, p.available),
      el("td", {}, el("span", { class: "qty" }, delta,
        el("button", { type: "button", class: "secondary", onclick: () => act(
          () => api("POST", `/api/v1/products/${p.id}/stock`, { delta: parseInt(delta.value, 10) }, { "idempotency-key": crypto.randomUUID() }),
          `Stock of ${p.name} adjusted.`) }, "Apply"))),
      el("td", {}, p.active
        ? el("button", { type: "button", class: "secondary", onclick: () => act(
          () => api("PATCH", `/api/v1/products/${p.id}`, { active: false }),
          `${p.name} is no longer sold.`) }, "Take off sale")
        : el("button", { type: "button", class: "secondary", onclick: () => act(
          () => api("PATCH", `/api/v1/products/${p.id}`, { active: true }),
          `${p.name} is on sale again.`) }, "Put back on sale")));
  };
  const head = el("thead", {}, el("tr", {}, ["Product", "Price (EUR)", "Available", "Receive / write off", ""].map((h) => el("th", { scope: "col" }, h))));
  const low = products.filter((p) => p.active && p.available <= LOW_STOCK).sort((a, b) => a.available - b.available);
  const form = el("form", { class: "stack", id: "new-product", onsubmit: (event) => {
    event.preventDefault();
    const f = new FormData(event.target);
    act(async () => {
      const { data: created } = await api("POST", "/api/v1/products", {
        name: f.get("name"),
        description: f.get("description"),
        price: { amount_minor: euros(f.get("price")), currency: "EUR" },
      }, { "idempotency-key": crypto.randomUUID() });
      const stock = parseInt(f.get("stock"), 10);
      if (stock > 0) await api("POST", `/api/v1/products/${created.id}/stock`, { delta: stock }, { "idempotency-key": crypto.randomUUID() });
    }, `${f.get("name")} is in the catalog.`);
  } },
    el("label", {}, "Name", el("input", { name: "name", required: true, maxlength: 200 })),
    el("label", {}, "Description", el("input", { name: "description", maxlength: 5000 })),
    el("label", {}, "Price (EUR)", el("input", { name: "price", type: "number", min: "0.01", step: "0.01", required: true })),
    el("label", {}, "Stock", el("input", { name: "stock", type: "number", min: "0", step: "1", value: "0" })),
    el("button", { type: "submit" }, "Add product"));
  show(el("h1", {}, "Products"), backOfficeNav("products"),
    el("div", { class: "panel" }, el("h2", {}, `Low stock (${LOW_STOCK} or fewer)`),
      low.length
        ? el("ul", { id: "low-stock" }, low.map((p) => el("li", {}, `${p.name}: ${p.available} left`)))
        : el("p", {}, "Nothing is running low.")),
    el("div", { class: "panel" }, el("table", { id: "admin-products" }, head, el("tbody", {}, products.map(row)))),
    el("div", { class: "panel" }, el("h2", {}, "New product"), form));
}

// The back office's own pages; every customer's orders are the main menu's "Orders" page.
function backOfficeNav(current) {
  const link = (page, label) => el("a", { href: `#/admin/${page}`, "aria-current": page === current ? "page" : null }, label);
  return el("nav", { class: "subnav", "aria-label": "Back office" }, link("products", "Products"), link("flags", "Runtime flags"));
}

// The runtime flags as the flag file sets them now, read-only: a flag changes by editing the
// file (a ConfigMap on Kubernetes), which is reviewed like any other configuration.
async function flagsAdminView() {
  show(el("h1", {}, "Runtime flags"), backOfficeNav("flags"), el("p", { "aria-busy": "true" }, "Loading…"));
  const view = views;
  let list;
  try {
    ({ data: list } = await api("GET", "/api/v1/admin/flags"));
  } catch (error) {
    say(error.message, "error");
    return;
  }
  if (stale(view)) return;
  const shown = (value) => JSON.stringify(value);
  const row = (flag) => el("tr", { "data-flag": flag.key, class: flag.enabled ? "" : "flag-disabled" },
    el("th", { scope: "row" }, el("code", {}, flag.key)),
    el("td", { class: "flag-state" }, flag.enabled
      ? el("span", {}, el("strong", {}, flag.variant), ` (${shown(flag.value)})`)
      : "disabled: the default applies"),
    el("td", {}, flag.variants.map((v) => el("span", { class: v.name === flag.variant ? "variant current" : "variant" }, `${v.name} ${shown(v.value)}`))),
    el("td", {}, flag.description || ""));
  const head = el("thead", {}, el("tr", {}, ["Flag", "Set to", "Variants", "What it does"].map((h) => el("th", { scope: "col" }, h))));
  show(el("h1", {}, "Runtime flags"), backOfficeNav("flags"),
    el("p", {}, "Read-only. Change a flag's ", el("code", {}, "defaultVariant"), " in the flag file (",
      el("code", {}, "infra/flags/flags.json"), "; on Kubernetes the ConfigMap ", el("code", {}, "shop-flags"),
      "); the services follow within seconds, without a restart."),
    list.from_file
      ? el("div", { class: "panel" }, el("table", { id: "admin-flags" }, head, el("tbody", {}, list.flags.map(row))))
      : el("p", { class: "panel" }, "The gateway was started without a flag file, so every service that has none uses each flag's default."));
}

async function cancel(id) {
  try {
    await api("POST", `/api/v1/orders/${encodeURIComponent(id)}/cancel`, { reason: "cancelled in the storefront" });
    say("Order cancelled. Your refund is on its way.");
    orderView(id);
  } catch (error) {
    say(error.message, "error");
  }
}

function authView(mode) {
  const registering = mode === "register";
  const fields = [
    registering ? el("label", {}, "Name", el("input", { name: "name", autocomplete: "name", required: true })) : null,
    el("label", {}, "Email", el("input", { name: "email", type: "email", autocomplete: "email", required: true })),
    el("label", {}, "Password",
      el("input", { name: "password", type: "password", autocomplete: registering ? "new-password" : "current-password", required: true, minlength: registering ? 12 : undefined }),
      registering ? el("span", { class: "hint" }, "At least 12 characters: a few words make a good one.") : null),
  ];
  const form = el("form", { class: "stack", onsubmit: (event) => submitAuth(event, registering) },
    fields, el("button", { type: "submit" }, registering ? "Create account" : "Log in"));
  show(el("h1", {}, registering ? "Create an account" : "Log in"), el("div", { class: "panel" }, form,
    el("p", {}, registering
      ? el("a", { href: "#/login" }, "I already have an account")
      : el("a", { href: "#/register" }, "Create an account"))));
}

async function submitAuth(event, registering) {
  event.preventDefault();
  const form = new FormData(event.target);
  const credentials = { email: form.get("email"), password: form.get("password") };
  try {
    // Sign-up answers alike whether or not the email had an account; signing in tells.
    if (registering) await api("POST", "/api/v1/auth/register", { ...credentials, name: form.get("name") });
    const { data } = await api("POST", "/api/v1/auth/login", { ...credentials, cookie: true }).catch((error) => {
      if (registering && error.status === 401) {
        error.message = "We could not sign you in. If this email already has an account, log in with its password.";
      }
      throw error;
    });
    session.save(data);
    const merged = await cart.merge();
    renderAccount();
    say(registering ? "Welcome to Ferris Shop!" : "You are logged in.");
    // Onwards from the sign-in page, unless the customer already went somewhere else.
    if (["#/login", "#/register"].includes(location.hash)) {
      location.hash = merged && merged.items.length ? "#/cart" : "#/";
    }
  } catch (error) {
    say(error.message, "error");
  }
}

async function logout() {
  try { await api("POST", "/api/v1/auth/logout"); } catch (_) { /* the session ends here anyway */ }
  session.clear();
  cart.forget();
  renderAccount();
  say("You are logged out.");
  location.hash = "#/";
}

// ---- Routing.

function route() {
  views += 1;
  const [path] = location.hash.split("?");
  const [, view, id] = path.split("/");
  if (view !== "orders" || !id) clearTimeout(polling);
  switch (view) {
    case "cart": return cartView();
    case "products": return id ? productView(id) : shopView();
    case "admin": {
      if (!session.admin) return authView("login");
      return id === "flags" ? flagsAdminView() : productsAdminView();
    }
    case "orders": return id ? orderView(id) : ordersView(ordersFilters(location.hash));
    case "login": return authView("login");
    case "register": return authView("register");
    default: {
      const params = new URLSearchParams(location.hash.split("?")[1] || "");
      return shopView(params.get("q") || "", params.get("sort") || "name");
    }
  }
}

document.getElementById("search-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const q = document.getElementById("search-input").value.trim();
  location.hash = catalogHash(q, new URLSearchParams(location.hash.split("?")[1] || "").get("sort"));
});
window.addEventListener("hashchange", () => { flash.textContent = ""; route(); });
renderCartCount();
// A session this browser already has comes back through the cookie, before the first view.
session.renew()
  .then((signedIn) => (signedIn ? cart.merge() : null))
  .catch((error) => say(error.message, "error"))
  .finally(() => {
    renderAccount();
    route();
  });
