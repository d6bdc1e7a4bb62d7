// ajv 8, draft 2020-12, strict mode: compile every schema under schemas/v<version>/, validate every
// example against its kind's schema and the index, and report the verdict on every corpus item.
// Prints one JSON object; exits 1 when a schema does not compile or an example is refused.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const schemas = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "schemas");
const version = readdirSync(schemas).find((name) => /^v[0-9]/.test(name));
const folder = join(schemas, version);
const read = (path) => JSON.parse(readFileSync(path, "utf8"));

const ajv = new Ajv2020({ strict: true, allErrors: false });
addFormats(ajv);
const files = readdirSync(folder).filter((name) => name.endsWith(".schema.json")).sort();
for (const name of files) ajv.addSchema(read(join(folder, name)));
const failures = [];
let compiled = 0;
for (const name of files) {
  try {
    ajv.getSchema(name);
    compiled += 1;
  } catch (error) {
    failures.push(`${name}: ${error.message}`);
  }
}
const index = ajv.getSchema("message.schema.json");
let examples = 0;
for (const name of readdirSync(join(schemas, "examples")).sort()) {
  const example = read(join(schemas, "examples", name));
  const kind = name.replace(/\.json$/, "");
  for (const schema of [index, ajv.getSchema(`${kind}.schema.json`)]) {
    if (!schema(example)) failures.push(`examples/${name}: ${ajv.errorsText(schema.errors)}`);
  }
  examples += 1;
}
const corpus = {};
const corpusDir = join(schemas, "corpus");
for (const name of readdirSync(corpusDir).filter((n) => n.endsWith(".json")).sort()) {
  for (const item of read(join(corpusDir, name)).items) {
    // a raw item is text the parser itself refuses or reads differently; JSON Schema sees the parse
    let data;
    try {
      data = "raw" in item ? JSON.parse(item.raw) : item.message;
    } catch {
      corpus[item.name] = false;
      continue;
    }
    corpus[item.name] = index(data);
  }
}
console.log(JSON.stringify({ compiled, schemas: files.length, examples, failures, corpus }));
process.exit(failures.length ? 1 : 0);
