import pg from 'pg';

export default async function globalTeardown(): Promise<void> {
  const adminUrl = process.env.HP_TEST_ADMIN_URL;
  const template = process.env.HP_TEST_TEMPLATE_DB;
  const stop = (globalThis as { __hpStopPostgres?: () => void }).__hpStopPostgres;
  if (stop) {
    stop(); // our throwaway cluster: everything goes with it
  } else if (adminUrl && template) {
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    const left = await admin.query(`SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2`, [
      template,
      `${template}_f%`,
    ]);
    for (const r of left.rows)
      await admin.query(`DROP DATABASE IF EXISTS ${r.datname} WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}
