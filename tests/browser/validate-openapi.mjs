// Validates an OpenAPI document with @apidevtools/swagger-parser (schema of the OpenAPI version,
// every $ref resolvable). Usage: node validate-openapi.mjs FILE. Exit 0 when valid, 1 with the
// validator's message otherwise. Run by tests/integration/test_obs_openapi.py.
import SwaggerParser from '@apidevtools/swagger-parser';

const file = process.argv[2];
if (!file) {
  console.error('usage: node validate-openapi.mjs FILE');
  process.exit(2);
}
try {
  const api = await SwaggerParser.validate(file);
  const ops = Object.values(api.paths || {}).reduce((n, item) => n + Object.keys(item).length, 0);
  console.log(JSON.stringify({ valid: true, openapi: api.openapi, paths: Object.keys(api.paths).length, operations: ops }));
} catch (err) {
  console.error('invalid OpenAPI document: ' + err.message);
  process.exit(1);
}
