import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { OpenAPIBackend } from 'openapi-backend';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

/**
 * Validates manifest-endpoint responses against Pipedrive's published OpenAPI file for them
 * (omnichannel-integration.specs.yaml, https://github.com/pipedrive/omnichannel-api-docs),
 * read from a `shared/specs` folder beside the clone when the maintainers keep a copy there.
 * Without it the contract checks are skipped (and say so) rather than copied into the project.
 */
const SPEC = fileURLToPath(new URL('../../../shared/specs/pipedrive-provider-endpoints.openapi.yaml', import.meta.url));
export const SPEC_AVAILABLE = existsSync(SPEC);

let api: OpenAPIBackend | undefined;
async function backend(): Promise<OpenAPIBackend> {
  if (!api) {
    api = new OpenAPIBackend({
      definition: parse(readFileSync(SPEC, 'utf8')),
      strict: false,
      quick: false,
      validate: true,
      ajvOpts: { allErrors: true },
      customizeAjv: (ajv) => {
        addFormats.default(ajv);
        ajv.addFormat('url', true);
        return ajv;
      },
    });
    await api.init();
  }
  return api;
}

/**
 * Compiles the spec now: the first check otherwise does it mid-test, blocking this process
 * (app and fakes alike) for seconds while a browser waits on the app.
 */
export async function loadSpec(): Promise<void> {
  if (SPEC_AVAILABLE) await backend();
}

/** Throws with every schema fault when the response does not match the spec. */
export async function assertMatchesSpec(method: string, path: string, status: number, body: unknown): Promise<void> {
  if (!SPEC_AVAILABLE) return;
  const b = await backend();
  const specPath = path.replace(/^\/api/, '').split('?')[0]!;
  const operation = b.router.matchOperation({ method: method.toLowerCase(), path: specPath, headers: {}, query: {} });
  if (!operation) throw new Error(`no spec operation for ${method} ${specPath}`);
  const result = b.validator.validateResponse(body, operation, status);
  if (result.errors?.length) {
    throw new Error(`${method} ${path} ${status} does not match the spec: ${JSON.stringify(result.errors, null, 1)}\nbody: ${JSON.stringify(body).slice(0, 2000)}`);
  }
}
