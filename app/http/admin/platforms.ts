import { fieldsOf, type PlatformField } from '../../platforms/fields.ts';
import type { PlatformRegistry } from '../../platforms/registry.ts';

export type { PlatformField };

export interface PlatformInfo {
  kind: string;
  name: string;
  available: boolean;
  fields: PlatformField[];
}

/**
 * The connect form's fields, read from each adapter's config schema (zod → JSON Schema), so
 * a new adapter's fields, labels and hints appear without touching the page. Each platform
 * keeps its texts beside its schema (`.meta({title, description, placeholder, secret})`).
 */
export function platformInfos(registry: PlatformRegistry): PlatformInfo[] {
  return [...registry.values()].map((a) => ({ kind: a.kind, name: a.displayName, available: true, fields: fieldsOf(a.configSchema) }));
}

/** How each platform learns a channel's webhook URL, one clause per platform, for the admin page. */
export function webhookHints(registry: PlatformRegistry): string[] {
  return [...registry.values()].flatMap((a) => (a.webhookHint ? [a.webhookHint] : []));
}
