import type { Knex } from 'knex';

/** What knex reports of each statement it runs (its `query` event). */
export interface RanStatement {
  sql?: string;
  bindings?: unknown[];
  /** Set for the statements of a transaction, BEGIN and COMMIT included. */
  __knexTxId?: string;
}

type Client = { on(event: 'query', listener: (q: RanStatement) => void): unknown; runner(builder: unknown): { client: Client } };

/**
 * Calls `onStatement` for every statement the app's knex runs. Every statement emits `query` on
 * the client that runs it; on sqlite plain reads go to a second client (the read pool,
 * app/store/db.ts) whose runners pass through the writer's `runner`, so the first one seen
 * hooks that client too. For the bench's statement counts and tests that count statements.
 */
export function watchStatements(db: Knex, onStatement: (q: RanStatement) => void): void {
  const hooked = new WeakSet<object>();
  const hook = (client: Client) => {
    if (hooked.has(client)) return;
    hooked.add(client);
    client.on('query', onStatement);
  };
  const writer = db.client as Client;
  hook(writer);
  const runner = writer.runner.bind(writer);
  writer.runner = (builder: unknown) => {
    const r = runner(builder);
    hook(r.client);
    return r;
  };
}
