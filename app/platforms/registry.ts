import { airyAdapterFactory } from './airy/adapter.ts';
import { alvariaAdapterFactory } from './alvaria/adapter.ts';
import type { AdapterFactory, PlatformAdapter, PlatformServices } from './contract.ts';

/**
 * The platforms this build ships, registered explicitly (no import side effects). Adding a
 * platform is one folder under app/platforms/ and one line here.
 */
export const builtInPlatforms: Record<string, AdapterFactory> = {
  airy: airyAdapterFactory(),
  alvaria: alvariaAdapterFactory(),
};

export type PlatformRegistry = ReadonlyMap<string, PlatformAdapter<any, any>>;

export function createRegistry(factories: Record<string, AdapterFactory>, services: PlatformServices): PlatformRegistry {
  const registry = new Map<string, PlatformAdapter<any, any>>();
  for (const [kind, factory] of Object.entries(factories)) {
    const adapter = factory(services);
    if (adapter.kind !== kind) throw new Error(`adapter registered as ${kind} reports kind ${adapter.kind}`);
    registry.set(kind, adapter);
  }
  return registry;
}
