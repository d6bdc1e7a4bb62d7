// ajv 8, draft 2020-12, strict mode: compile every schema under each schemas/v<version>/ (one ajv
// per version: their $ids are the same relative names), validate every example against its kind's
// schema and the index of the current (newest) version, and report the verdict on every corpus item,
// each read with the schemas of its envelope.schema_version where that folder exists (else the
// current version's). Prints one JSON object; exits 1 when a schema does not compile or an example
// is refused.
import { readFileSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import Ajv2020 from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

const schemas = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "schemas");
const read = (path) => JSON.parse(readFileSync(path, "utf8"));
const byNumber = (a, b) => a.localeCompare(b, undefined, { numeric: true });
const versions = readdirSync(schemas)
  .filter((name) => /^v[0-9]/.test(name))
  .map((name) => name.slice(1))
  .sort(byNumber);
const current = versions[versions.length - 1];

const failures = [];
let compiled = 0;
let files = 0;
const ajvs = new Map();
for (const version of versions) {
  const folder = join(schemas, `v${version}`);
  const ajv = new Ajv2020({ strict: true, allErrors: false });
  addFormats(ajv);
  const names = readdirSync(folder).filter((name) => name.endsWith(".schema.json")).sort();
  for (const name of names) ajv.addSchema(read(join(folder, name)));
  for (const name of names) {
    try {
      ajv.getSchema(name);
      compiled += 1;
    } catch (error) {
      failures.push(`v${version}/${name}: ${error.message}`);
    }
  }
  files += names.length;
  ajvs.set(version, ajv);
}
const index = (version) => ajvs.get(ajvs.has(version) ? version : current).getSchema("message.schema.json");
let examples = 0;
for (const name of readdirSync(join(schemas, "examples")).sort()) {
  const example = read(join(schemas, "examples", name));
  const kind = name.replace(/\.json$/, "");
  for (const schema of [index(current), ajvs.get(current).getSchema(`${kind}.schema.json`)]) {
    if (!schema(example)) failures.push(`examples/${name}: ${ajvs.get(current).errorsText(schema.errors)}`);
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
    corpus[item.name] = index(data?.envelope?.schema_version)(data);
  }
}
// the sealed form: every valid message of the sealing vectors against its kind's sealed schema
let sealedVectors = 0;
for (const [suite, vectors] of Object.entries(read(join(schemas, "sealing", "vectors.json")).suites)) {
  for (const vector of vectors.valid) {
    const kind = vector.message.envelope.kind;
    const schema = ajvs.get(current).getSchema(`${kind}.sealed.schema.json`);
    if (!schema(vector.message)) {
      failures.push(`sealing/vectors.json ${suite} ${vector.name}: ${ajvs.get(current).errorsText(schema.errors)}`);
    }
    sealedVectors += 1;
  }
}
console.log(JSON.stringify({ compiled, schemas: files, versions, examples, failures, corpus, sealedVectors }));
process.exit(failures.length ? 1 : 0);
