import { ConfigError, loadConfig } from './index';

describe('config', () => {
  it('builds development defaults and freezes them', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({ nodeEnv: 'development', port: 3000, sandbox: true });
    expect(c.databaseUrl).toBeUndefined();
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.orderExpiryMinutes)).toBe(true);
    expect(c.orderExpiryMinutes).toMatchObject({ NATIVE: 15, JSAPI: 120 });
  });

  it('lets environment variables override defaults', () => {
    const c = loadConfig({
      PORT: '8080',
      SANDBOX: 'off',
      DATABASE_URL: 'postgres://u@h/db',
      PAYMENT_QUERY_BACKOFF_SECONDS: '1, 2,3',
    });
    expect(c).toMatchObject({
      port: 8080,
      sandbox: false,
      databaseUrl: 'postgres://u@h/db',
      paymentQueryBackoffSeconds: [1, 2, 3],
    });
  });

  it('names every wrong setting with what to fix', () => {
    let err: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', SANDBOX: 'maybe' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).toMatch(/port:/);
    expect(msg).toMatch(/databaseUrl: must start with postgres:\/\//);
    expect(msg).toMatch(/sandbox: must be 1\/0/);
  });

  it('refuses production without real secrets, a database server, https or with the sandbox', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', SANDBOX: '1' })).toThrow(
      /sandbox: the sandbox cannot run with NODE_ENV=production/,
    );
    const msg = (() => {
      try {
        loadConfig({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'http://pay.example.cn' });
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })();
    expect(msg).toMatch(/patientJwtSecret: required in production/);
    expect(msg).toMatch(/secretsKey: required in production/);
    expect(msg).toMatch(/adminJwtSecret: required in production/);
    expect(msg).toMatch(/databaseUrl: production needs a PostgreSQL server/);
    expect(msg).toMatch(/publicBaseUrl: must be https/);
    const ok = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://h/db',
      PATIENT_JWT_SECRET: 'x'.repeat(40),
      ADMIN_JWT_SECRET: 'y'.repeat(40),
      SECRETS_KEY: 'a'.repeat(64),
    });
    expect(ok.sandbox).toBe(false);
  });

  it('wants the first admin as a pair: username and password', () => {
    expect(() => loadConfig({ ADMIN_INITIAL_USERNAME: 'root' })).toThrow(
      /adminInitialPassword: set both ADMIN_INITIAL_USERNAME and ADMIN_INITIAL_PASSWORD/,
    );
    const c = loadConfig({ ADMIN_INITIAL_USERNAME: 'root', ADMIN_INITIAL_PASSWORD: 'long-enough-pw' });
    expect(c.adminInitialUsername).toBe('root');
  });

  it('rejects an unknown NODE_ENV', () => {
    expect(() => loadConfig({ NODE_ENV: 'staging' })).toThrow(
      /NODE_ENV: must be development, test or production/,
    );
  });
});
