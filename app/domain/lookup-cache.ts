import { LRUCache } from 'lru-cache';

/**
 * How long a looked-up row may be served from memory before it is read again. The bound on
 * what another process's change takes to be seen here (this process's own changes are seen at
 * once: every write path forgets what it changed). docs/ARCHITECTURE.md, "Lookup caches".
 */
export const LOOKUP_TTL_MS = 2_000;

/**
 * The same for conversations and their participants on the webhook paths, which use them to
 * know *which* conversation and who answers in it: fixed facts, so they may live longer (a name
 * another process changed shows this much later at most).
 */
export const CONVERSATION_TTL_MS = 30_000;

interface Entry<V> {
  value: V;
  tags: readonly string[];
}

/**
 * A small read-through cache for hot lookups: bounded (least recently used goes), every entry
 * lives at most `ttlMs`, and `forget(tag)` drops every entry filed under a tag (a channel, a
 * conversation) when this process changes it. Absent rows are not cached, so something
 * created is found at once.
 *
 * A load that was in flight while something was forgotten is answered but not kept: it may
 * have read the row before the change committed (the epoch below), and keeping it would undo
 * the invalidation until the entry expires.
 */
export class LookupCache<V extends object> {
  private readonly lru: LRUCache<string, Entry<V>>;
  private readonly byTag = new Map<string, Set<string>>();
  private epoch = 0;

  constructor(opts: { max: number; ttlMs: number }) {
    this.lru = new LRUCache<string, Entry<V>>({
      max: opts.max,
      ttl: Math.max(1, opts.ttlMs),
      dispose: (entry, key) => {
        for (const tag of entry.tags) {
          const keys = this.byTag.get(tag);
          if (!keys) continue;
          keys.delete(key);
          if (!keys.size) this.byTag.delete(tag);
        }
      },
    });
  }

  /** The cached value of `key`, else `load()`'s answer, kept under `tags(value)` when there is one. */
  async get(key: string, load: () => Promise<V | undefined>, tags: (value: V) => readonly string[]): Promise<V | undefined> {
    const hit = this.lru.get(key);
    if (hit) return hit.value;
    const epoch = this.epoch;
    const value = await load();
    if (value !== undefined && epoch === this.epoch) this.put(key, value, tags(value));
    return value;
  }

  /** Drops every entry filed under the tag. Call it after the change committed. */
  forget(tag: string): void {
    this.epoch++;
    const keys = this.byTag.get(tag);
    if (!keys) return;
    for (const key of [...keys]) this.lru.delete(key);
    this.byTag.delete(tag);
  }

  get size(): number {
    return this.lru.size;
  }

  private put(key: string, value: V, tags: readonly string[]): void {
    this.lru.set(key, { value, tags });
    for (const tag of tags) {
      let keys = this.byTag.get(tag);
      if (!keys) this.byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }
}
