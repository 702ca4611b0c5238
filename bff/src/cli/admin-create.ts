import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '@hp/config';
import { openDatabase } from '../db/client';
import { AppError } from '../lib/errors';
import { createAdminUser, ensureBuiltinRoles } from '../modules/admin/auth-service';

/**
 * `npm run admin:create -- --username NAME [--display-name 名字] [--role super_admin] [--hospital-id ID]`
 * creates an admin user on the configured database (DATABASE_URL, or the PGlite data directory when the
 * demo is stopped). The password is read from ADMIN_PASSWORD_FILE, ADMIN_PASSWORD or standard input —
 * never from the command line, where other users of the machine could see it.
 */
async function main() {
  const { values } = parseArgs({
    options: {
      username: { type: 'string' },
      'display-name': { type: 'string' },
      role: { type: 'string', default: 'super_admin' },
      'hospital-id': { type: 'string' },
    },
  });
  if (!values.username)
    throw new Error(
      'usage: npm run admin:create -- --username NAME [--display-name NAME] [--role CODE] [--hospital-id ID]\n' +
        '  password from ADMIN_PASSWORD_FILE, ADMIN_PASSWORD or standard input',
    );
  const password = process.env.ADMIN_PASSWORD_FILE
    ? readFileSync(process.env.ADMIN_PASSWORD_FILE, 'utf8').trim()
    : (process.env.ADMIN_PASSWORD ?? readFileSync(0, 'utf8').trim());
  const config = loadConfig(process.env, { seedDemo: false });
  const database = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: 2,
  });
  try {
    await database.migrate();
    await ensureBuiltinRoles(database.db);
    const id = await createAdminUser(database.db, {
      username: values.username,
      displayName: values['display-name'] ?? values.username,
      password,
      roleCode: values.role,
      hospitalId: values['hospital-id'] ?? null,
    });
    console.log(`admin user ${values.username} created (${id}, role ${values.role})`);
  } finally {
    await database.close();
  }
}

main().catch((e: unknown) => {
  const msg = e instanceof ConfigError || e instanceof AppError || e instanceof Error ? e.message : String(e);
  console.error(`admin:create failed: ${msg}`);
  process.exit(1);
});
