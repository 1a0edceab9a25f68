// Node.js module hook for @actions/workflow-parser, whose ESM build imports its JSON schemas
// without an import assertion (it is written for bundlers): such a .json file is handed to Node
// as an ES module exporting the parsed object. Used only by validate.mjs (--experimental-loader).
import { readFile } from "node:fs/promises";

export async function load(url, context, nextLoad) {
  if (url.startsWith("file:") && url.endsWith(".json") && url.includes("/@actions/")) {
    const text = await readFile(new URL(url), "utf8");
    return { format: "module", source: `export default ${text};`, shortCircuit: true };
  }
  return nextLoad(url, context);
}
