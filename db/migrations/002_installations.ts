import type { Knex } from 'knex';

// Install and admin: why an installation stopped working (a lapsed refresh token,
// shown on the admin page) and the company's Pipedrive domain for links.
export async function up(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.text('last_error');
    t.string('company_domain', 255);
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.alterTable('installations', (t) => {
    t.dropColumn('last_error');
    t.dropColumn('company_domain');
  });
}
