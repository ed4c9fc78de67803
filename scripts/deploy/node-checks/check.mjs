// Validates the Istio resources in rendered manifests (kubectl kustomize output) against the
// models @kubernetes-models/istio generates from Istio's own CRDs, in two passes:
//
//   1. the CRD's OpenAPI schema (types, enums, required fields, one-of groups), through the
//      model's compiled validator;
//   2. unknown fields, which that schema (like the API server) would silently drop: each resource
//      is written out as a TypeScript literal of the model's type and compiled, and the
//      compiler's excess-property check names every field the CRD does not have.
//
// usage: node check.mjs <rendered.yaml>...   exit 0 when every Istio resource is valid.

import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import YAML from "yaml";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const MODELS = "@kubernetes-models/istio";

function isIstio(doc) {
  return typeof doc?.apiVersion === "string" && /\.istio\.io\//.test(doc.apiVersion);
}

function describe(doc, file) {
  return `${file}: ${doc.kind}/${doc.metadata?.name ?? "?"} (${doc.apiVersion})`;
}

// A TypeScript literal for `value`, one property per line; `paths[i]` is the field on line i.
function literal(value, indent, at, lines, paths) {
  const pad = "  ".repeat(indent);
  if (Array.isArray(value)) {
    lines[lines.length - 1] += "[";
    value.forEach((item, i) => {
      lines.push(`${pad}  `);
      paths.push(`${at}[${i}]`);
      literal(item, indent + 1, `${at}[${i}]`, lines, paths);
      lines[lines.length - 1] += ",";
    });
    lines.push(`${pad}]`);
    paths.push(at);
  } else if (value !== null && typeof value === "object") {
    lines[lines.length - 1] += "{";
    for (const [key, item] of Object.entries(value)) {
      const field = at ? `${at}.${key}` : key;
      lines.push(`${pad}  ${JSON.stringify(key)}: `);
      paths.push(field);
      literal(item, indent + 1, field, lines, paths);
      lines[lines.length - 1] += ",";
    }
    lines.push(`${pad}}`);
    paths.push(at);
  } else {
    lines[lines.length - 1] += JSON.stringify(value);
  }
}

async function main(files) {
  const problems = [];
  const resources = [];
  for (const file of files) {
    for (const parsed of YAML.parseAllDocuments(fs.readFileSync(file, "utf8"))) {
      const doc = parsed.toJS();
      if (isIstio(doc)) resources.push({ doc, file });
    }
  }

  // Pass 1: the CRD schema.
  const known = [];
  for (const { doc, file } of resources) {
    const [groupVersion, kind] = [doc.apiVersion, doc.kind];
    const module = `${MODELS}/${groupVersion}/${kind}`;
    let model;
    try {
      model = (await import(module))[kind];
    } catch {
      problems.push(`${describe(doc, file)}: no such Istio kind/version`);
      continue;
    }
    try {
      new model(doc).validate();
    } catch (err) {
      problems.push(`${describe(doc, file)}: ${err.message}`);
    }
    known.push({ doc, file, module, kind });
  }

  // Pass 2: unknown fields, by type-checking each resource as a literal of its model's type.
  const lines = [""];
  const paths = [""];
  const owners = [null];
  known.forEach(({ doc, file, module, kind }, i) => {
    lines.push(`import type { I${kind} as T${i} } from ${JSON.stringify(module)};`);
    paths.push("");
    owners.push(null);
  });
  known.forEach(({ doc, file }, i) => {
    const start = lines.length;
    lines.push(`export const r${i}: T${i} = `);
    paths.push("");
    literal(doc, 0, "", lines, paths);
    lines[lines.length - 1] += ";";
    for (let line = start; line < lines.length; line++) owners[line] = { doc, file };
  });
  const generated = path.join(HERE, ".generated-check.ts");
  fs.writeFileSync(generated, lines.join("\n") + "\n");
  try {
    const program = ts.createProgram([generated], {
      noEmit: true,
      strict: true,
      skipLibCheck: true,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
    });
    const source = program.getSourceFile(generated);
    for (const diagnostic of ts.getPreEmitDiagnostics(program)) {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, "\n").split("\n")[0];
      if (diagnostic.file !== source || diagnostic.start === undefined) {
        problems.push(`type check: ${message}`);
        continue;
      }
      const { line } = source.getLineAndCharacterOfPosition(diagnostic.start);
      const owner = owners[line];
      const field = paths[line] || "(resource)";
      const where = owner ? describe(owner.doc, owner.file) : "generated module";
      const unknown = /may only specify known properties, and '"?([^'"]+)"?' does not exist/.exec(message);
      problems.push(
        unknown
          ? `${where}: ${field}: unknown field "${unknown[1]}"`
          : `${where}: ${field}: ${message}`,
      );
    }
  } finally {
    fs.rmSync(generated, { force: true });
  }

  for (const problem of problems) console.error(`istio: ${problem}`);
  console.log(`istio: ${resources.length} resources checked, ${problems.length} problems`);
  return problems.length === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
