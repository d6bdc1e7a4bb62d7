// TypeScript models from the AsyncAPI document (Modelina), written to build/models/ (not committed),
// then compiled with tsc together with consumer.ts, which uses them the way a bureau system would.
// Exits 1 when a model gets a generated name (AnonymousSchema) instead of a domain name.
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Parser } from "@asyncapi/parser";
import { TypeScriptFileGenerator } from "@asyncapi/modelina";
import yaml from "js-yaml";

const here = dirname(fileURLToPath(import.meta.url));
const source = join(here, "..", "..", "schemas", "asyncapi.yaml");
const out = join(here, "build", "models");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

const raw = yaml.load(readFileSync(source, "utf8"));
const { document, diagnostics } = await new Parser().parse(readFileSync(source, "utf8"), { source });
if (!document) {
  console.error(JSON.stringify(diagnostics, null, 2));
  process.exit(1);
}
const generator = new TypeScriptFileGenerator({ modelType: "interface", enumType: "union", rawPropertyNames: true });
const models = await generator.generateToFiles(raw, out, { exportType: "named" }, true);
const names = models.map((m) => m.modelName).sort();
const anonymous = names.filter((n) => /anonymous/i.test(n));
const index = names.map((n) => `export * from "./${n}";`).join("\n") + "\n";
writeFileSync(join(out, "index.ts"), index);
console.log(JSON.stringify({ models: names.length, anonymous, names }));
process.exit(anonymous.length ? 1 : 0);
