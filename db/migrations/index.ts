import type { Knex } from 'knex';
import * as m001 from './001_init.ts';
import * as m002 from './002_installations.ts';
import * as m004 from './004_alvaria.ts';
import * as m005 from './005_jobs_claim_index.ts';
import * as m006 from './006_session_generation_and_health.ts';
import * as m008 from './008_runtime_bounds.ts';
import * as m011 from './011_workspace.ts';
import * as m012 from './012_transcripts.ts';
import * as m013 from './013_platform_naming.ts';
import * as m014 from './014_attachments_page_order.ts';
import * as m015 from './015_jobs_claim_plan.ts';
import * as m016 from './016_jobs_unfinished_key.ts';
import * as m017 from './017_messages_has_attachments.ts';

/**
 * Migrations are listed here explicitly (no directory scan), so they load the same way
 * under tsx, in tests and in scripts. Append new ones; never edit a released one.
 *
 * The numbers have gaps (no 003, 007, 009, 010): numbers were reserved ahead for lines of
 * work developed side by side (004 landed before 002), and those that needed no schema
 * change left theirs unused. The gaps are harmless and stay: knex records each applied
 * migration by its name, so renumbering would make existing databases apply one again.
 */
const migrations: Record<string, Knex.Migration> = {
  '001_init': m001,
  '002_installations': m002,
  '004_alvaria': m004,
  '005_jobs_claim_index': m005,
  '006_session_generation_and_health': m006,
  '008_runtime_bounds': m008,
  '011_workspace': m011,
  '012_transcripts': m012,
  '013_platform_naming': m013,
  '014_attachments_page_order': m014,
  '015_jobs_claim_plan': m015,
  '016_jobs_unfinished_key': m016,
  '017_messages_has_attachments': m017,
};

export const migrationSource: Knex.MigrationSource<string> = {
  getMigrations: async () => Object.keys(migrations),
  getMigrationName: (name) => name,
  getMigration: async (name) => migrations[name]!,
};
