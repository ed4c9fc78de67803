"use strict";
// The API explorer on /docs: Swagger UI (vendored under /static/vendor/swagger-ui/, no CDN)
// over this gateway's /openapi.json, under the gateway's CSP (this file instead of an inline
// script). Signing in through the explorer authorizes it: the access token of a login or a
// refresh answer is kept in this page's memory only and sent as the bearer token after it.
const signedIn = document.getElementById("signed-in");

function authorizeFrom(response) {
  const path = new URL(response.url, location.href).pathname;
  if (!response.ok || !["/api/v1/auth/login", "/api/v1/auth/refresh"].includes(path)) return response;
  const token = response.body && response.body.access_token;
  if (typeof token === "string" && token) {
    window.ui.preauthorizeApiKey("bearer", token);
    signedIn.textContent = "Signed in: the explorer sends this session's access token.";
  }
  return response;
}

function forgetOnLogout(request) {
  if (new URL(request.url, location.href).pathname === "/api/v1/auth/logout") {
    // The logout request itself still carries the token; everything after it goes without.
    setTimeout(() => { window.ui.authActions.logout(["bearer"]); signedIn.textContent = "Not signed in."; }, 0);
  }
  return request;
}

window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  root.textContent = "";
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    layout: "BaseLayout",
    presets: [SwaggerUIBundle.presets.apis],
    // Nothing leaves the origin: no online validator badge, no telemetry.
    validatorUrl: null,
    tryItOutEnabled: true,
    displayRequestDuration: true,
    persistAuthorization: false,
    requestInterceptor: forgetOnLogout,
    responseInterceptor: authorizeFrom,
    onComplete: () => root.removeAttribute("aria-busy"),
  });
});
