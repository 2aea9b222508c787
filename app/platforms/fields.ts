import { z } from 'zod';

export interface PlatformField {
  name: string;
  type: 'string' | 'secret' | 'list' | 'number' | 'boolean';
  required: boolean;
  /** A human label (the schema's `title`), else the key made readable. */
  label: string;
  /** What the value is and where to find it (the schema's `description`). */
  hint: string | null;
  placeholder: string | null;
}

/** Only for fields whose schema does not say (`meta({secret})`); never for URLs. */
const SECRET = /secret|token|password|api_key|private/i;

interface JsonField {
  type?: string | string[];
  format?: string;
  title?: string;
  description?: string;
  placeholder?: string;
  secret?: boolean;
  anyOf?: JsonField[];
}

/** A config schema's fields for a form, with the texts the platform keeps beside its schema. */
export function fieldsOf(schema: z.ZodType): PlatformField[] {
  let fields = cache.get(schema);
  if (!fields) cache.set(schema, (fields = readFields(schema)));
  return fields;
}
const cache = new WeakMap<z.ZodType, PlatformField[]>();

function readFields(schema: z.ZodType): PlatformField[] {
  let json: { properties?: Record<string, JsonField>; required?: string[] };
  try {
    json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as typeof json;
  } catch {
    return [];
  }
  const required = new Set(json.required ?? []);
  return Object.entries(json.properties ?? {}).map(([name, p]) => {
    const types = [p.type, ...(p.anyOf ?? []).map((a) => a.type)].flat().filter((t): t is string => typeof t === 'string');
    const secret = p.secret ?? (SECRET.test(name) && p.format !== 'uri');
    const type: PlatformField['type'] = types.includes('array')
      ? 'list'
      : types.includes('boolean') && types.length === 1
        ? 'boolean'
        : types.length && types.every((t) => t === 'number' || t === 'integer')
          ? 'number'
          : secret
            ? 'secret'
            : 'string';
    return {
      name,
      type,
      required: required.has(name),
      label: p.title ?? readable(name),
      hint: p.description ?? null,
      placeholder: p.placeholder ?? null,
    };
  });
}

const readable = (key: string) => {
  const s = key
    .replace(/[_-]+/g, ' ')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .trim()
    .toLowerCase();
  return s.charAt(0).toUpperCase() + s.slice(1);
};

/** The stored settings a form may show again: every field except secrets (never sent back). */
export function visibleSettings(schema: z.ZodType, config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of fieldsOf(schema)) if (f.type !== 'secret' && config[f.name] !== undefined) out[f.name] = config[f.name];
  return out;
}
