import type { Knex } from 'knex';

/**
 * - installations.session_generation: sealed into every session cookie; sign-out, uninstall
 *   and a reinstall raise it, so every cookie issued before stops working on the server side.
 * - health_probe: the row /healthz rewrites to prove the database takes writes.
 */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.integer('session_generation').notNullable().defaultTo(0);
  });
  await knex.schema.createTable('health_probe', (t) => {
    t.string('id', 64).primary();
    t.bigInteger('at').notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.dropTable('health_probe');
  await knex.schema.alterTable('installations', (t) => {
    t.dropColumn('session_generation');
  });
}
