"use strict";
// Renders /openapi.json without any third-party code: this page works offline.
const el = (tag, text, cls) => { const n = document.createElement(tag); if (text) n.textContent = text; if (cls) n.className = cls; return n; };
const refName = (schema) => schema && (schema.$ref ? schema.$ref.split("/").pop()
  : schema.type === "array" ? `${refName(schema.items)}[]` : schema.type || "object");
fetch("/openapi.json").then((r) => r.json()).then((doc) => {
  document.getElementById("title").textContent = `${doc.info.title} ${doc.info.version}`;
  document.getElementById("description").textContent = doc.info.description || "";
  const root = document.getElementById("operations");
  root.replaceChildren();
  root.removeAttribute("aria-busy");
  const byTag = {};
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const tag = (op.tags || ["other"])[0];
      (byTag[tag] = byTag[tag] || []).push({ path, method, op });
    }
  }
  for (const tag of doc.tags || []) {
    const section = el("section");
    section.append(el("h2", tag.name), el("p", tag.description || ""));
    for (const { path, method, op } of byTag[tag.name] || []) {
      const details = el("details", null, "op");
      const summary = el("summary");
      summary.append(el("span", method.toUpperCase(), `method ${method}`), el("code", path), el("span", op.summary || ""));
      const body = el("div", null, "body");
      if (op.description) body.append(el("p", op.description));
      if (op.security) body.append(el("p", "Needs Authorization: Bearer <access_token>."));
      for (const p of op.parameters || []) body.append(el("p", `${p.in} ${p.name}${p.required ? " (required)" : ""}: ${p.description || refName(p.schema)}`));
      const request = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
      if (request) body.append(el("p", `Body: ${refName(request.schema)}`));
      const responses = el("ul");
      for (const [status, response] of Object.entries(op.responses || {})) {
        const content = response.content && Object.values(response.content)[0];
        responses.append(el("li", `${status} ${response.description || ""}${content && content.schema ? ` → ${refName(content.schema)}` : ""}`));
      }
      body.append(el("p", "Responses:"), responses);
      details.append(summary, body);
      section.append(details);
    }
    root.append(section);
  }
  const schemas = el("section");
  schemas.append(el("h2", "Schemas"));
  for (const [name, schema] of Object.entries((doc.components || {}).schemas || {})) {
    const details = el("details", null, "op");
    const summary = el("summary");
    summary.append(el("code", name));
    const pre = el("pre", JSON.stringify(schema, null, 2));
    details.append(summary, pre);
    schemas.append(details);
  }
  root.append(schemas);
}).catch((error) => { document.getElementById("operations").textContent = `Could not load the document: ${error}`; });
