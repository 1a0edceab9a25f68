// Validates a CycloneDX JSON document (a file path argument, or stdin) against the CycloneDX 1.5
// JSON schema that @cyclonedx/cyclonedx-library ships (its strict variant: no unknown
// properties), with the library's own ajv-based validator. Prints "valid" or the errors as JSON
// and exits 0 / 1. Used by tests/integration/test_sbom.py.
import { readFileSync } from 'node:fs'
import { Spec, Validation } from '@cyclonedx/cyclonedx-library'

const text = readFileSync(process.argv[2] ?? 0, 'utf8')
const validator = new Validation.JsonStrictValidator(Spec.Version.v1dot5)
const errors = await validator.validate(text)
if (errors === null) {
  console.log('valid')
} else {
  console.log(JSON.stringify(errors, null, 2))
  process.exit(1)
}
