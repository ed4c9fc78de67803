// The storefront's main flow in headless Chromium against the running shop
// (scripts/dev-up.sh): register, log in, add two products, check out with tok_visa, and find
// the order CONFIRMED in the history; the API explorer (/docs) signs in and calls a route as
// that customer; and no page breaks the gateway's Content-Security-Policy on the way.
// Screenshots go to $ARTIFACTS_DIR (tests/artifacts).
//
//   BASE_URL=http://localhost:8080 node checkout.test.mjs
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL ?? "http://localhost:8080";
const artifacts = process.env.ARTIFACTS_DIR ?? new URL("../artifacts/", import.meta.url).pathname;
const executablePath = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

let failed = false;
// What Chromium reports about the Content-Security-Policy, from every page of the test.
const violations = [];
const watch = (page) => {
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(`${page.url()}: ${message.text()}`);
  });
  return page;
};
const step = async (name, body) => {
  process.stdout.write(`- ${name} ... `);
  await body();
  console.log("ok");
};

try {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = watch(await context.newPage());
  page.setDefaultTimeout(15_000);
  const email = `shopper-${Date.now()}@example.com`;
  const password = "correct horse battery 42";
  // Moves within the page (no reload): a reload renews the session, and sign-in and renewal
  // share the gateway's per-address limit for /api/v1/auth.
  const hashTo = (tab, hash) => tab.evaluate((h) => { location.hash = h; }, hash);

  await step("the storefront lists the demo catalog", async () => {
    await page.goto(base);
    await page.getByRole("heading", { name: "Products" }).waitFor();
    await page.getByRole("button", { name: "Add Ferris Plush to cart" }).waitFor();
  });

  await step("the catalog sorts by price, cheapest or dearest first", async () => {
    const prices = async () => (await page.locator(".card .price").allTextContents())
      .map((text) => parseFloat(text.replace(/[^0-9.]/g, "")));
    const sorted = async (direction) => {
      // The grid is redrawn when the listing in that order arrives: poll until it is ordered.
      for (let tries = 0; tries < 50; tries += 1) {
        const listed = await prices();
        const ordered = listed.length > 1 && listed.every((p, i) => i === 0 || direction * (p - listed[i - 1]) >= 0);
        if (ordered) return listed;
        await page.waitForTimeout(100);
      }
      throw new Error(`the catalog is not sorted by price (${direction > 0 ? "ascending" : "descending"}): ${await prices()}`);
    };
    await page.getByLabel("Sort by").selectOption("price_asc");
    await page.waitForURL(/sort=price_asc/);
    const cheapest = await sorted(1);
    await page.getByLabel("Sort by").selectOption("price_desc");
    await page.waitForURL(/sort=price_desc/);
    const dearest = await sorted(-1);
    if (dearest[0] < cheapest[0]) throw new Error(`dearest first starts at ${dearest[0]}, cheapest first at ${cheapest[0]}`);
    await page.screenshot({ path: join(artifacts, "catalog-by-price.png"), fullPage: true });
    await page.getByLabel("Sort by").selectOption("name");
    await page.getByRole("button", { name: "Add Ferris Plush to cart" }).waitFor();
  });

  await step("a product has a page of its own", async () => {
    await page.getByRole("link", { name: "Ferris Plush", exact: true }).click();
    await page.getByRole("heading", { name: "Ferris Plush" }).waitFor();
    await page.getByRole("button", { name: "Add Ferris Plush to cart" }).waitFor();
    await page.screenshot({ path: join(artifacts, "product.png"), fullPage: true });
    await page.getByRole("link", { name: "← All products" }).click();
    await page.getByRole("heading", { name: "Products" }).waitFor();
  });

  await step("a new customer registers and is logged in", async () => {
    await page.getByRole("link", { name: "Log in" }).click();
    await page.getByRole("link", { name: "Create an account" }).click();
    await page.getByLabel("Name").fill("Browser Shopper");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Create account" }).click();
    await page.getByRole("button", { name: "Log out" }).waitFor();
  });

  await step("logging out and in again works", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("link", { name: "Log in" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("button", { name: "Log out" }).waitFor();
  });

  await step("no page script can read a token; the session survives a reload", async () => {
    const cookies = await context.cookies();
    const refresh = cookies.find((c) => c.name === "shop_refresh");
    if (!refresh || !refresh.httpOnly || refresh.sameSite !== "Strict") {
      throw new Error(`the refresh token is not an HttpOnly SameSite=Strict cookie: ${JSON.stringify(refresh)}`);
    }
    const visible = await page.evaluate(() =>
      JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
    if (visible.includes(refresh.value) || /eyJ[\w-]+\.eyJ/.test(visible)) {
      throw new Error(`a token is readable by page scripts: ${visible}`);
    }
    await page.reload();
    await page.getByRole("button", { name: "Log out" }).waitFor();
    // Two tabs opened at the same instant each renew the session through the one cookie.
    const tabs = await Promise.all([context.newPage(), context.newPage()]);
    await Promise.all(tabs.map((tab) => watch(tab).goto(base)));
    for (const tab of tabs) await tab.getByRole("button", { name: "Log out" }).waitFor();
    await page.reload();
    await page.getByRole("button", { name: "Log out" }).waitFor();
    await Promise.all(tabs.map((tab) => tab.close()));
  });

  await step("two products go into the cart", async () => {
    await hashTo(page, "#/");
    await page.getByRole("button", { name: "Add Ferris Plush to cart" }).click();
    await page.getByRole("button", { name: "Add Crab Mug to cart" }).click();
    await page.locator("#cart-count", { hasText: "2" }).waitFor();
  });

  await step("the cart is the account's, and a guest's cart merges into it on signing in", async () => {
    await page.getByRole("button", { name: "Log out" }).click();
    await page.locator("#cart-count", { hasText: /^0$/ }).waitFor();
    await hashTo(page, "#/");
    await page.getByRole("button", { name: "Add Ferris Plush to cart" }).click();
    await page.locator("#cart-count", { hasText: /^1$/ }).waitFor();
    await page.getByRole("link", { name: "Log in" }).click();
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("#cart-count", { hasText: /^3$/ }).waitFor();
    await page.getByRole("heading", { name: "Your cart" }).waitFor();
    const plush = page.locator('tr[data-product="Ferris Plush"] [aria-label="quantity"]');
    await plush.filter({ hasText: /^2$/ }).waitFor();
    await page.screenshot({ path: join(artifacts, "cart.png"), fullPage: true });
  });

  let shippedOrder = "";
  const address = async () => {
    await page.getByLabel("Full name").fill("Browser Shopper");
    await page.getByLabel("Address", { exact: true }).fill("1 Crab Lane");
    await page.getByLabel("City").fill("Dublin");
    await page.getByLabel("Postal code").fill("D02 X285");
  };

  await step("checkout with an address, a shipping quote and tok_visa confirms the order", async () => {
    await page.getByRole("link", { name: /Cart/ }).click();
    await address();
    await page.getByLabel("Country").selectOption("DE");
    // 2 x 24.99 + 12.99 = 62.97 to Germany: standard 9.95 (free from 100.00), express 19.95.
    await page.getByLabel(/Express: €19\.95/).check();
    await page.getByRole("button", { name: "Place order (€82.92)" }).waitFor();
    await page.screenshot({ path: join(artifacts, "checkout-address.png"), fullPage: true });
    await page.getByLabel("Pay with").selectOption("tok_visa");
    await page.getByRole("button", { name: /Place order/ }).click();
    await page.locator("#order-status", { hasText: "CONFIRMED" }).waitFor();
    await page.getByRole("heading", { name: "Timeline" }).waitFor();
    shippedOrder = page.url();
    await page.locator("#ship-to", { hasText: "1 Crab Lane" }).waitFor();
    await page.getByText("Total €82.92").waitFor();
    // The shop emptied the cart once the order was confirmed.
    await page.locator("#cart-count", { hasText: /^0$/ }).waitFor();
    await page.screenshot({ path: join(artifacts, "order-confirmed.png"), fullPage: true });
  });

  await step("a declined card rejects the order and keeps the cart", async () => {
    await hashTo(page, "#/");
    await page.getByRole("button", { name: "Add Crab Mug to cart" }).click();
    await page.locator("#cart-count", { hasText: /^1$/ }).waitFor();
    await page.getByRole("link", { name: /Cart/ }).click();
    await address();
    await page.getByLabel("Pay with").selectOption("tok_declined");
    // 12.99 in Ireland: standard 4.95.
    await page.getByRole("button", { name: "Place order (€17.94)" }).click();
    await page.locator("#order-status", { hasText: "REJECTED" }).waitFor();
    await page.getByText("Reason: payment_declined").waitFor();
    await page.locator("#cart-count", { hasText: /^1$/ }).waitFor();
    await page.screenshot({ path: join(artifacts, "order-declined.png"), fullPage: true });
  });

  await step("the customer cancels an order before it ships", async () => {
    await page.getByRole("link", { name: /Cart/ }).click();
    await address();
    await page.getByLabel("Pay with").selectOption("tok_visa");
    await page.getByRole("button", { name: "Place order (€17.94)" }).click();
    await page.locator("#order-status", { hasText: "CONFIRMED" }).waitFor();
    await page.getByRole("button", { name: "Cancel order" }).click();
    await page.locator("#order-status", { hasText: "CANCELLED" }).waitFor();
    await page.locator(".timeline", { hasText: "refunded" }).waitFor();
  });

  await step("an admin ships the order and sees the runtime flags; the customer sees it shipped with its tracking", async () => {
    const adminPassword = process.env.ADMIN_PASSWORD;
    if (!adminPassword) throw new Error("ADMIN_PASSWORD is not set (scripts/dev-up.sh makes one)");
    const office = watch(await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage());
    office.setDefaultTimeout(15_000);
    await office.goto(`${base}/#/login`);
    await office.getByLabel("Email").fill("admin@example.com");
    await office.getByLabel("Password").fill(adminPassword);
    await office.getByRole("button", { name: "Log in" }).click();
    await office.getByRole("button", { name: "Log out" }).waitFor();
    await office.getByRole("link", { name: "Orders" }).click();
    await office.getByRole("heading", { name: "All orders" }).waitFor();
    await office.getByLabel("Status").selectOption("CONFIRMED");
    await office.waitForURL(/status=CONFIRMED/);
    await office.locator("#orders .badge", { hasText: "CONFIRMED" }).first().waitFor();
    // One customer's orders, from a row's customer link; the filters combine.
    await office.locator("#orders code.customer").first().click();
    await office.waitForURL(/customer=[0-9a-f-]{36}/);
    const customer = new URL(office.url()).hash.match(/customer=([0-9a-f-]{36})/)[1];
    await office.locator("#orders code.customer").first().waitFor();
    const shown = await office.locator("#orders code.customer").allTextContents();
    if (!shown.every((id) => id === customer.slice(0, 8))) throw new Error(`another customer's order is listed: ${shown}`);
    if ((await office.getByLabel("Customer id").inputValue()) !== customer) throw new Error("the customer filter is not shown");
    const today = new Date().toISOString().slice(0, 10);
    await office.getByLabel("Placed from (UTC)").fill(today);
    await office.getByRole("button", { name: "Filter" }).click();
    await office.waitForURL(new RegExp(`from=${today}`));
    // The list drawn for these filters (not the one before) shows the day it was asked for.
    await office.locator(`#order-filters input[name="from"][value="${today}"]`).waitFor();
    await office.locator("#orders .badge", { hasText: "CONFIRMED" }).first().waitFor();
    await office.screenshot({ path: join(artifacts, "back-office-orders.png"), fullPage: true });
    await hashTo(office, new URL(shippedOrder).hash);
    await office.getByLabel("Carrier").fill("An Post");
    await office.getByLabel("Tracking number").fill("RX123456789IE");
    await office.getByRole("button", { name: "Ship" }).click();
    await office.locator("#order-status", { hasText: "SHIPPED" }).waitFor();
    await office.screenshot({ path: join(artifacts, "back-office-shipped.png"), fullPage: true });

    // The catalog side of the back office: a new product with little stock is listed as
    // running low, then taken off sale again (the demo catalog stays as it was).
    const lamp = `Zz Browser Lamp ${Date.now()}`;
    await office.getByRole("link", { name: "Back office" }).click();
    await office.getByRole("heading", { name: "Products" }).waitFor();
    const form = office.locator("#new-product");
    await form.getByLabel("Name", { exact: true }).fill(lamp);
    await form.getByLabel("Price (EUR)", { exact: true }).fill("9.99");
    await form.getByLabel("Stock", { exact: true }).fill("3");
    await form.getByRole("button", { name: "Add product" }).click();
    await office.locator("#low-stock", { hasText: `${lamp}: 3 left` }).waitFor();
    await office.screenshot({ path: join(artifacts, "back-office-products.png"), fullPage: true });
    // Edited: a new name, description and picture.
    const renamed = `${lamp} Deluxe`;
    const row = office.locator(`tr[data-product="${lamp}"]`);
    await row.getByText("Edit").click();
    await row.getByLabel("Name").fill(renamed);
    await row.getByLabel("Description").fill("A lamp shaped like a crab.");
    await row.getByLabel("Picture (a path on this site)").fill("/static/products/ferris-plush.svg");
    await row.getByRole("button", { name: "Save changes" }).click();
    await office.getByText(`${renamed} is saved.`).waitFor();
    // Off sale, the product stays in the back office, to be put back on sale.
    const edited = office.locator(`tr[data-product="${renamed}"]`);
    await edited.getByRole("button", { name: "Take off sale" }).click();
    await office.getByText(`${renamed} is no longer sold.`).waitFor();
    await office.locator(`tr.off-sale[data-product="${renamed}"]`).getByRole("button", { name: "Put back on sale" }).click();
    await office.getByText(`${renamed} is on sale again.`).waitFor();
    await office.locator(`tr[data-product="${renamed}"]`).getByRole("button", { name: "Take off sale" }).click();
    await office.getByText(`${renamed} is no longer sold.`).waitFor();
    await office.locator(`tr.off-sale[data-product="${renamed}"]`).waitFor();
    // Stock received: what this run kept (2 Ferris Plush and a Crab Mug) comes back in, so
    // runs repeated on one shop never empty the demo catalog.
    for (const [name, units] of [["Ferris Plush", 2], ["Crab Mug", 1]]) {
      const line = office.locator(`tr[data-product="${name}"]`);
      const available = async () => Number(await line.locator("td").nth(2).textContent());
      const before = await available();
      await line.getByLabel(`Stock change for ${name}`).fill(String(units));
      await line.getByRole("button", { name: "Apply" }).click();
      for (let tries = 0; (await available()) !== before + units; tries += 1) {
        if (tries === 50) throw new Error(`${name}: ${await available()} available, not ${before + units}`);
        await office.waitForTimeout(100);
      }
    }
    // The runtime flags, read-only, as the flag file sets them (every fault off).
    await office.getByRole("link", { name: "Runtime flags" }).click();
    await office.getByRole("heading", { name: "Runtime flags" }).waitFor();
    await office.locator('#admin-flags tr[data-flag="payment-failure-rate"] .flag-state', { hasText: "off" }).waitFor();
    await office.locator('#admin-flags tr[data-flag="express-shipping"] .flag-state', { hasText: "on" }).waitFor();
    if (await office.locator("#admin-flags").locator("input, select, button").count()) {
      throw new Error("the flags view offers to change a flag");
    }
    await office.screenshot({ path: join(artifacts, "back-office-flags.png"), fullPage: true });
    await office.close();

    await hashTo(page, new URL(shippedOrder).hash);
    await page.locator("#order-status", { hasText: "SHIPPED" }).waitFor();
    await page.locator("#tracking", { hasText: "RX123456789IE" }).waitFor();
    if (await page.getByRole("button", { name: "Cancel order" }).count()) {
      throw new Error("a shipped order offers to be cancelled");
    }
    await page.screenshot({ path: join(artifacts, "order-shipped.png"), fullPage: true });
  });

  await step("the order history shows each order's status", async () => {
    await page.getByRole("link", { name: "Orders" }).click();
    await page.locator("#orders .badge", { hasText: "SHIPPED" }).first().waitFor();
    await page.locator("#orders .badge", { hasText: "CANCELLED" }).first().waitFor();
    await page.locator("#orders .badge", { hasText: "REJECTED" }).first().waitFor();
    await page.screenshot({ path: join(artifacts, "checkout.png"), fullPage: true });
  });

  await step("the shop fits a phone-sized screen", async () => {
    const phone = watch(await browser.newPage({ viewport: { width: 390, height: 844 } }));
    await phone.goto(base);
    await phone.getByRole("heading", { name: "Products" }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    await phone.screenshot({ path: join(artifacts, "phone.png") });
    if (overflow > 0) throw new Error(`the page is ${overflow}px wider than the screen`);
  });

  await step("the API explorer signs in and calls a route that needs an account", async () => {
    const response = await page.goto(`${base}/docs`);
    const policy = response.headers()["content-security-policy"] ?? "";
    if (!policy.includes("script-src 'self';") || policy.includes("unsafe")) {
      throw new Error(`/docs has no strict CSP: '${policy}'`);
    }
    const login = page.locator("#operations-auth-login");
    await login.locator(".opblock-summary").click();
    await login.locator("textarea.body-param__text").fill(JSON.stringify({ email, password }));
    // Sign-ins share a per-address limit (10 at once, 20 a minute) that this test's own
    // sign-ins and renewals come close to: a 429 is retried after its Retry-After, as a
    // client should.
    for (let attempt = 1; ; attempt += 1) {
      const [answer] = await Promise.all([
        page.waitForResponse((r) => r.url().endsWith("/api/v1/auth/login")),
        login.getByRole("button", { name: "Execute" }).click(),
      ]);
      if (answer.status() === 200) break;
      if (answer.status() !== 429 || attempt === 3) throw new Error(`signing in from the explorer answered ${answer.status()}`);
      await page.waitForTimeout(1_000 * Number(answer.headers()["retry-after"] ?? 5));
    }
    await login.locator(".live-responses-table .response-col_status", { hasText: "200" }).waitFor();
    await page.locator("#signed-in", { hasText: "Signed in" }).waitFor();
    const me = page.locator("#operations-auth-get_me");
    await me.locator(".opblock-summary").click();
    await me.getByRole("button", { name: "Execute" }).click();
    await me.locator(".live-responses-table .response-col_status", { hasText: "200" }).waitFor();
    await me.locator(".live-responses-table .microlight", { hasText: email }).first().waitFor();
    await page.screenshot({ path: join(artifacts, "docs.png") });
  });

  await step("no page broke the Content-Security-Policy", async () => {
    if (violations.length) throw new Error(`CSP violations:\n${violations.join("\n")}`);
  });
} catch (error) {
  failed = true;
  console.log("FAILED");
  console.error(error);
  const pages = browser.contexts().flatMap((c) => c.pages());
  if (pages.length) await pages[0].screenshot({ path: join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
}
console.log(failed ? `browser test failed; screenshots in ${artifacts}` : `browser test passed; screenshots in ${artifacts}`);
process.exit(failed ? 1 : 0);
