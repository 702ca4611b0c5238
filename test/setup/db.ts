import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { withDatabase } from './postgres';

/** A fresh database for one test file, cloned from the migrated template. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const adminUrl = process.env.HP_TEST_ADMIN_URL;
  const template = process.env.HP_TEST_TEMPLATE_DB;
  if (!adminUrl || !template)
    throw new Error('test/setup/global-setup.ts did not run (HP_TEST_ADMIN_URL is unset)');
  const name = `${template}_f${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    // Two workers cloning at the same instant can collide ("source database … is being accessed by other
    // users"): PostgreSQL allows one copy of a template at a time. Wait and retry.
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (e) {
        if (attempt >= 20 || !/being accessed by other users/.test((e as Error).message)) throw e;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  return {
    url: withDatabase(adminUrl, name),
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).catch(() => undefined);
      await c.end();
    },
  };
}
