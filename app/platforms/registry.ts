import { airyAdapterFactory } from './airy/adapter.ts';
import { alvariaAdapterFactory } from './alvaria/adapter.ts';
import type { AdapterFactory, ProviderAdapter, ProviderServices } from './contract.ts';

/**
 * The platforms this build ships, registered explicitly (no import side effects). Adding a
 * platform is one folder under app/platforms/ and one line here.
 */
export const builtInProviders: Record<string, AdapterFactory> = {
  airy: airyAdapterFactory(),
  alvaria: alvariaAdapterFactory(),
};

export type ProviderRegistry = ReadonlyMap<string, ProviderAdapter<any, any>>;

export function createRegistry(factories: Record<string, AdapterFactory>, services: ProviderServices): ProviderRegistry {
  const registry = new Map<string, ProviderAdapter<any, any>>();
  for (const [kind, factory] of Object.entries(factories)) {
    const adapter = factory(services);
    if (adapter.kind !== kind) throw new Error(`adapter registered as ${kind} reports kind ${adapter.kind}`);
    registry.set(kind, adapter);
  }
  return registry;
}
