// Parses an AsyncAPI document with the official parser (@asyncapi/parser) and prints
// one JSON line: {ok, errors: [...], warnings: n, operations: [...]}. Exit 1 on errors.
// Usage: node validate_asyncapi.mjs <file>
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const text = await readFile(process.argv[2], "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
const errors = diagnostics
  .filter((d) => d.severity === DiagnosticSeverity.Error)
  .map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`);
const warnings = diagnostics
  .filter((d) => d.severity === DiagnosticSeverity.Warning)
  .map((d) => `${d.code}: ${d.message} at ${d.path.join(".")}`);
const operations = document
  ? document.operations().all().map((op) => `${op.action()} ${op.id()}`)
  : [];
console.log(JSON.stringify({ ok: document !== undefined && errors.length === 0, errors, warnings, operations }));
process.exit(errors.length === 0 && document ? 0 : 1);
