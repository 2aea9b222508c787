/**
 * Operator tool for the outbox's dead letters (the same environment and .env as `npm start`):
 *   npm run dead-letters                 list dead jobs with their reason
 *   npm run dead-letters -- replay 42    put job 42 back in the queue (fresh attempts)
 *   npm run dead-letters -- replay --all put every dead job back
 * A running service picks replayed jobs up at its next poll.
 */
import { ConfigError, loadConfig } from '../app/ground/config.ts';
import { safeDbUrl } from '../app/startup-errors.ts';
import { createDb, migrate } from '../app/store/db.ts';
import { listJobs, replayDeadJobs } from '../app/store/jobs.ts';

const [command = 'list', arg] = process.argv.slice(2);
let config;
try {
  config = loadConfig({ ...process.env, APP_SECRET: process.env.APP_SECRET || 'x'.repeat(32) });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  console.error(err.message);
  process.exit(2);
}
// Say which database this is (on stderr, so the listing stays machine-readable).
const where = config.database.client === 'pg' ? `${safeDbUrl(config.database.url)}${config.database.schema ? ` schema ${config.database.schema}` : ''}` : `sqlite ${config.database.filename}`;
console.error(`database: ${where} (DATABASE_URL from the environment or .env)`);
const db = createDb(config.database);
try {
  await migrate(db, config.database.client === 'pg' ? config.database.schema : undefined);
  if (command === 'list') {
    const dead = await listJobs(db, { status: 'dead', limit: 500 });
    if (!dead.length) console.log('no dead letters');
    for (const j of dead) {
      console.log(`${j.id}\t${j.kind}\tattempts=${j.attempts}\tchannel=${j.channelId ?? '-'}\t${JSON.stringify(j.payload)}\t${j.lastError ?? ''}`);
    }
  } else if (command === 'replay') {
    const all = arg === '--all';
    const id = Number(arg);
    if (!all && !Number.isInteger(id)) throw new Error('usage: replay <job id> | replay --all');
    const n = await replayDeadJobs(db, all ? { all } : { id }, Date.now());
    console.log(`replayed ${n} job(s)`);
    if (!all && n === 0) process.exitCode = 1;
  } else {
    throw new Error(`unknown command ${command}: use list or replay`);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 2;
} finally {
  await db.destroy();
}
