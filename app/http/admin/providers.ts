import { z } from 'zod';
import type { ProviderRegistry } from '../../providers/registry.ts';

/** Platforms the product supports; each arrives with its own adapter (DESIGN.md). */
const KNOWN = [
  { kind: 'airy', name: 'Airy Core' },
  { kind: 'alvaria', name: 'Alvaria Cloud' },
];

export interface ProviderField {
  name: string;
  type: 'string' | 'secret' | 'list' | 'number' | 'boolean';
  required: boolean;
  description: string | null;
}

export interface ProviderInfo {
  kind: string;
  name: string;
  available: boolean;
  fields: ProviderField[];
}

const SECRET = /secret|token|password|api_key|private/i;

/**
 * The connect form's fields, read from each adapter's config schema (zod → JSON Schema), so
 * a new adapter's fields appear without touching the page. `.describe()` texts become hints.
 */
export function providerInfos(registry: ProviderRegistry): ProviderInfo[] {
  const available: ProviderInfo[] = [...registry.values()].map((a) => ({ kind: a.kind, name: a.displayName, available: true, fields: fieldsOf(a.configSchema) }));
  const missing = KNOWN.filter((k) => !registry.has(k.kind)).map((k) => ({ ...k, available: false, fields: [] }));
  return [...available, ...missing];
}

function fieldsOf(schema: z.ZodType): ProviderField[] {
  let json: { properties?: Record<string, { type?: string; description?: string }>; required?: string[] };
  try {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as typeof json;
  } catch {
    return [];
  }
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, p]) => ({
    name,
    type: p.type === 'array' ? 'list' : p.type === 'number' || p.type === 'integer' ? 'number' : p.type === 'boolean' ? 'boolean' : SECRET.test(name) ? 'secret' : 'string',
    required: required.has(name),
    description: p.description ?? null,
  }));
}
