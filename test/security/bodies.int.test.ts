import { count, eq, ne } from 'drizzle-orm';
import { adminUsers, bills, notificationInbox, orders, refunds } from '../../bff/src/db/schema';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { startTestStack, type TestStack } from '../support/platform';

/**
 * Security suite (issue 10): oversized and malformed bodies on every API — the HIS open API, the patient API,
 * the admin API and the channel notification routes. Over the limit → 413 `payload_too_large`; not JSON → 400
 * `bad_request`; a body that is not declared JSON → 415 `unsupported_media_type` where the API takes JSON. None
 * of them changes anything: orders, bills, refunds and the notification inbox keep their counts (a refused
 * notification is kept as one `rejected` inbox row, which is what the inbox is for).
 */

const LIMIT = 4096; // BODY_LIMIT_BYTES for this stack: small, so "over the limit" is cheap to send
const NOTIFY_LIMIT = 64 * 1024; // notification routes read at most 64 KiB (http/routes.ts)

describe('security: oversized and malformed bodies', () => {
  let s: TestStack;
  let patient: string;
  let admin: string;
  let his: { appId: string; secret: string };
  const db = () => s.platform.deps.db;

  const counts = async () => ({
    orders: (await db().select({ n: count() }).from(orders))[0]!.n,
    bills: (await db().select({ n: count() }).from(bills))[0]!.n,
    refunds: (await db().select({ n: count() }).from(refunds))[0]!.n,
    inbox: (
      await db()
        .select({ n: count() })
        .from(notificationInbox)
        .where(ne(notificationInbox.outcome, 'rejected'))
    )[0]!.n,
    admins: (await db().select({ n: count() }).from(adminUsers))[0]!.n,
  });

  beforeAll(async () => {
    s = await startTestStack({
      bodyLimitBytes: LIMIT,
      adminInitialUsername: 'secadmin',
      adminInitialPassword: 'security-pass-2026',
    });
    patient = await s.login('P0001');
    const login = await s.api('POST', '/admin/api/auth/login', {
      body: { username: 'secadmin', password: 'security-pass-2026' },
    });
    expect(login.status).toBe(200);
    admin = login.body.accessToken;
    his = s.sandbox.keys.hospitals.H001!.his;
    await s.pushBill({ amountFen: 1000 }); // something to keep
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** A JSON text of exactly `size` bytes: `{"pad":"xxx…"}`. */
  const jsonOfSize = (size: number) => `{"pad":"${'x'.repeat(size - 10)}"}`;

  type Sender = (body: string, contentType: string) => Promise<Response>;
  const apis: { name: string; limit: number; send: Sender; json: boolean }[] = [
    {
      name: 'open API POST /open/v1/bills',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/open/v1/bills`, {
          method: 'POST',
          body,
          headers: {
            ...signedHeaders(his.appId, his.secret, 'POST', '/open/v1/bills', body),
            'content-type': contentType,
          },
        }),
    },
    {
      name: 'open API POST /open/v1/refunds',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/open/v1/refunds`, {
          method: 'POST',
          body,
          headers: {
            ...signedHeaders(his.appId, his.secret, 'POST', '/open/v1/refunds', body),
            'content-type': contentType,
          },
        }),
    },
    {
      name: 'patient API POST /api/orders',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/api/orders`, {
          method: 'POST',
          body,
          headers: { authorization: `Bearer ${patient}`, 'content-type': contentType },
        }),
    },
    {
      name: 'patient API POST /api/patient/cards',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/api/patient/cards`, {
          method: 'POST',
          body,
          headers: { authorization: `Bearer ${patient}`, 'content-type': contentType },
        }),
    },
    {
      name: 'patient API POST /api/patient/sandbox-login (no session)',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/api/patient/sandbox-login`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
        }),
    },
    {
      name: 'admin API POST /admin/api/auth/login (no session)',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/admin/api/auth/login`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
        }),
    },
    {
      name: 'admin API POST /admin/api/users',
      limit: LIMIT,
      json: true,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/admin/api/users`, {
          method: 'POST',
          body,
          headers: { authorization: `Bearer ${admin}`, 'content-type': contentType },
        }),
    },
    {
      name: 'notification POST /notify/wechatpay/:account',
      limit: NOTIFY_LIMIT,
      json: false,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/notify/wechatpay/ma_h001_wechatpay`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
        }),
    },
    {
      name: 'notification POST /notify/alipay/:account',
      limit: NOTIFY_LIMIT,
      json: false,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/notify/alipay/ma_h001_alipay`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
        }),
    },
    {
      name: 'notification POST /notify/insurance/:account',
      limit: NOTIFY_LIMIT,
      json: false,
      send: (body, contentType) =>
        fetch(`${s.platform.url}/notify/insurance/ma_h001_nhsa`, {
          method: 'POST',
          body,
          headers: { 'content-type': contentType },
        }),
    },
  ];

  describe.each(apis.map((a) => [a.name, a] as const))('%s', (_name, api) => {
    it('answers 413 payload_too_large for a body over the limit, and changes nothing', async () => {
      const before = await counts();
      const inboxRows = (await db().select({ n: count() }).from(notificationInbox))[0]!.n;
      const r = await api.send(jsonOfSize(api.limit + 1), 'application/json');
      expect(r.status).toBe(413);
      expect(((await r.json()) as any).error.code).toBe('payload_too_large');
      expect(await counts()).toEqual(before);
      // Refused before it was read: not even a rejected inbox row.
      expect((await db().select({ n: count() }).from(notificationInbox))[0]!.n).toBe(inboxRows);
      // Exactly at the limit is read (and then refused or accepted on its merits, never as too large).
      const atLimit = await api.send(jsonOfSize(api.limit), 'application/json');
      expect(atLimit.status).not.toBe(413);
      expect(await counts()).toEqual(before);
    });

    it('refuses a body that is not JSON (400, or 401 for a notification), and changes nothing', async () => {
      const before = await counts();
      for (const body of ['{"billIds": [', '\u0000\u0001', 'null', '{"a":1}}', '<xml/>']) {
        const r = await api.send(body, 'application/json');
        const text = await r.text();
        if (api.json) {
          expect([body, r.status]).toEqual([body, body === 'null' ? 400 : 400]);
          expect(JSON.parse(text).error.code).toMatch(/^(bad_request|validation_failed)$/);
        } else {
          expect([body, r.status >= 400 && r.status < 500, r.status]).toEqual([body, true, r.status]);
          expect(text).not.toBe('success');
        }
      }
      expect(await counts()).toEqual(before);
    });

    it('refuses a body sent as another content type (415 where the API takes JSON), and changes nothing', async () => {
      const before = await counts();
      const r = await api.send('{"username":"secadmin","password":"security-pass-2026"}', 'text/plain');
      if (api.json) {
        expect(r.status).toBe(415);
        expect(((await r.json()) as any).error.code).toBe('unsupported_media_type');
      } else {
        // Channels choose their own content type (Alipay posts a form): verified on the raw bytes, not the type.
        expect(r.status).toBeGreaterThanOrEqual(400);
        expect(r.status).toBeLessThan(500);
      }
      expect(await counts()).toEqual(before);
    });
  });

  it('NUL characters in a notification (body, escaped JSON, path) are refused and kept, never a 500', async () => {
    const before = await counts();
    const envelope = {
      appId: 'x',
      merchantNo: 'y',
      notifyId: 'n',
      notifyType: 'TRADE.SUCCESS',
      version: '1.0',
      signType: 'SM2',
      keyId: 'K\u0000',
      timestamp: '1',
      nonce: 'n',
      bizContent: '{}',
      sign: 's',
    };
    for (const [path, body] of [
      ['/notify/bankpay/ma_h001_bankpay', JSON.stringify(envelope)],
      ['/notify/bankpay/ma_h001_bankpay', 'a\u0000b'],
      ['/notify/wechatpay/ma_%00x', '{}'],
      ['/notify/%00/ma_h001_wechatpay', '{}'],
      ['/notify/insurance/ma_%00x', '{}'],
    ] as const) {
      const r = await fetch(`${s.platform.url}${path}`, {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json' },
      });
      expect([path, body, r.status >= 400 && r.status < 500]).toEqual([path, body, true]);
    }
    const kept = await db()
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.rawBody, 'a\\u0000b'));
    expect(kept).toHaveLength(1);
    expect(await counts()).toEqual(before);
  });

  it('a refused notification is kept only as a rejected inbox row', async () => {
    const [row] = await db()
      .select()
      .from(notificationInbox)
      .where(eq(notificationInbox.rawBody, '{"billIds": ['));
    expect(row).toMatchObject({ outcome: 'rejected', verified: false });
  });
});
