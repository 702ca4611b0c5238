import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { notificationInbox, openApiCalls, outboundCalls } from '../../bff/src/db/schema';
import { DEMO_PATIENTS } from '../../bff/src/sandbox';
import { SANDBOX_WECHAT_APPS } from '../../bff/src/sandbox/wechatpay/login';
import { findLeaks, secretsOf, type Leak } from '../support/leak-scan';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Security suite (issue 10): nothing secret or personal in the logs. One stack logs every line (level trace) to its
 * own file while it goes through the flows that carry secrets and personal data — patient logins and JWTs, card
 * binding by card and by ID number, WeChat login, insurance authorisation (the person's ID number comes back from
 * the platform), payments on every channel, payment codes, admin login, signed HIS calls, a rejected notification
 * — then the file and this database's interface log (outbound_calls, open_api_calls) are scanned. The whole run's
 * log files are scanned again by the global teardown (test/setup/global-teardown.ts).
 */

/** Keys whose values are credentials wherever they appear (normalised: lower case, no _ or -). */
const CREDENTIAL_KEYS = new Set([
  'secret',
  'appsecret',
  'password',
  'privatekey',
  'apiv3key',
  'apiv2key',
  'apikey',
  'key',
  'token',
  'accesstoken',
  'refreshtoken',
  'sessionkey',
  'sign',
  'signature',
  'signdata',
  'paysign',
  'authcode',
  'paytoken',
]);

/** Paths of credential-named fields whose value is shown in clear. */
function clearCredentials(value: unknown, at = '$'): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => clearCredentials(v, `${at}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const n = k.toLowerCase().replace(/[_-]/g, '');
    if (CREDENTIAL_KEYS.has(n) && typeof v === 'string' && v !== '[REDACTED]' && v.length > 0)
      return [`${at}.${k}`];
    return clearCredentials(v, `${at}.${k}`);
  });
}

describe('security: logs and the interface log carry no secret and no personal data', () => {
  let s: TestStack;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hp-log-scan-'));
  const logFile = path.join(dir, 'bff.log');
  let known: string[];
  let allow: string[];
  const tokens: string[] = [];

  beforeAll(async () => {
    s = await startTestStack({
      logLevel: 'trace',
      logFile,
      adminInitialUsername: 'logadmin',
      adminInitialPassword: 'log-scan-pass-2026',
    });
    const c = s.platform.deps.config;
    known = secretsOf(s.sandbox.keys, [c.patientJwtSecret!, c.secretsKey!, 'log-scan-pass-2026']);
    allow = [...new Set(JSON.stringify(s.sandbox.keys).match(/(?<!\d)\d{16,19}(?!\d)/g) ?? [])];

    // Patients: sandbox login, binding by card number and by ID number (the HIS lookup carries both).
    const zhang = await s.login('P0001');
    const li = await s.login('P0002');
    tokens.push(zhang, li);
    const child = DEMO_PATIENTS.find((p) => p.patientId === 'P0003')!;
    expect(
      (
        await s.api('POST', '/api/patient/cards', {
          token: zhang,
          body: { name: child.name, cardNo: child.cardNo },
        })
      ).status,
    ).toBe(201);
    const zhangInfo = DEMO_PATIENTS.find((p) => p.patientId === 'P0001')!;
    const byId = await s.api('POST', '/api/patient/cards', {
      token: li,
      body: { name: zhangInfo.name, idNo: zhangInfo.idNo },
    });
    expect(byId.status).toBe(201);
    // A wrong name with a real ID number: refused, and the refusal is logged too.
    await s.api('POST', '/api/patient/cards', { token: li, body: { name: '王二', idNo: zhangInfo.idNo } });

    // WeChat login (code2session answers an openid and a session_key).
    const code = s.sandbox.wechat.login.issueCode(SANDBOX_WECHAT_APPS.miniProgram.appId, '日志扫描的微信');
    const wx = await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } });
    expect(wx.status).toBe(200);
    tokens.push(wx.body.token);

    // Insurance: authorisation (the platform answers the person with the ID number), balance, a quote.
    const { authCode } = (await (
      await fetch(`${s.sandbox.nhsa.url}/sim/nhsa/authorize`, {
        method: 'POST',
        body: JSON.stringify({ psnNo: '11000000000000000001' }),
      })
    ).json()) as { authCode: string };
    expect(
      (await s.api('POST', '/api/insurance/authorize/complete', { token: zhang, body: { authCode } })).status,
    ).toBe(200);
    await s.api('GET', '/api/insurance/balance', { token: zhang });
    const insBill = await s.pushBill({
      patientId: 'P0001',
      amountFen: 1000,
      items: [{ name: '一般诊疗费', quantity: 1, amountFen: 1000, category: '12' }],
    } as never);
    const quote = await s.api('POST', '/api/insurance/quotes', {
      token: zhang,
      body: { billIds: [insBill.billId] },
    });
    expect(quote.status).toBe(201);
    await s.api('POST', `/api/insurance/orders/${quote.body.orderId}/pay`, { token: zhang });

    // Payments on each channel, paid at the simulators (signed, encrypted notifications).
    for (const channel of ['wechatpay', 'alipay', 'bankpay'] as const) {
      const { billId } = await s.pushBill({ patientId: 'P0001', amountFen: 1200 });
      const o = await s.api('POST', '/api/orders', {
        token: zhang,
        body: { billIds: [billId], channel, tradeType: 'NATIVE' },
      });
      expect(o.status).toBe(201);
      if (channel === 'wechatpay') s.sandbox.wechat.pay(o.body.orderNo);
      if (channel === 'alipay') s.sandbox.alipay.settle(s.sandbox.alipay.orders.get(o.body.orderNo)!);
      if (channel === 'bankpay') s.sandbox.bankpay.pay(o.body.orderNo);
      await waitFor(
        async () =>
          (await s.api('GET', `/api/orders/${o.body.id}`, { token: zhang })).body.status !== 'PAYING',
        10_000,
        `${channel} paid`,
      );
    }
    // Payment codes at the window (the auth code is a credential), and a refund.
    const mp = await s.pushBill({ patientId: 'P0001', amountFen: 900 });
    const paid = await s.his('POST', '/open/v1/code-payments', {
      hisBillNos: [mp.hisBillNo],
      authCode: '134000000000000001',
      channel: 'wechatpay',
    });
    expect(paid.body.status).toBe('PAID');
    await s.his('POST', '/open/v1/refunds', {
      orderNo: paid.body.orderNo,
      hisRefundNo: `RF-LOG-${Date.now()}`,
      reason: '日志扫描',
    });

    // Admin: login (tokens in the reply), a refused login, a read of the interface log.
    const admin = await s.api('POST', '/admin/api/auth/login', {
      body: { username: 'logadmin', password: 'log-scan-pass-2026' },
    });
    expect(admin.status).toBe(200);
    tokens.push(admin.body.accessToken, admin.body.refreshToken);
    await s.api('POST', '/admin/api/auth/login', {
      body: { username: 'logadmin', password: 'wrong-password-1' },
    });
    await s.api('GET', '/admin/api/logs/outbound', { token: admin.body.accessToken });

    // A signed HIS call refused, and a notification refused.
    await s.api('POST', '/open/v1/bills', { body: { bills: [] }, headers: { 'x-app-id': 'x' } });
    await fetch(`${s.platform.url}/notify/wechatpay/ma_h001_wechatpay`, {
      method: 'POST',
      body: '{"id":"forged"}',
      headers: { 'wechatpay-signature': 'forged', 'content-type': 'application/json' },
    });
    // Let fire-and-forget interface-log writes land.
    await new Promise((r) => setTimeout(r, 500));
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const report = (leaks: Leak[]) => leaks.slice(0, 10).map((l) => `${l.kind} ${l.where} ${l.sample}`);

  it('the scan would find each kind of leak (it is not blind)', () => {
    const id = DEMO_PATIENTS[0]!.idNo!;
    const line = JSON.stringify({
      msg: 'x',
      idNo: id,
      card: '6222021234567890128',
      phone: '13812345678',
      token: tokens[0],
      key: s.sandbox.keys.hospitals.H001!.wechat.apiV3Key,
    });
    const kinds = findLeaks('probe', line, known, allow).map((l) => l.kind);
    expect(kinds).toEqual(expect.arrayContaining(['id_number', 'card_number', 'phone', 'jwt', 'secret']));
    // Masked forms are not leaks.
    expect(findLeaks('probe', '110***********0011 ************0128 138****5678', known, allow)).toEqual([]);
  });

  it('every log line of the run is free of secrets and personal data', () => {
    const lines = readFileSync(logFile, 'utf8').split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(50); // the flows above were logged (trace: every request)
    expect(lines.some((l) => l.includes('"outbound call"'))).toBe(true);
    expect(lines.some((l) => l.includes('notification rejected'))).toBe(true);
    const leaks = lines.flatMap((l, i) => findLeaks(`bff.log:${i + 1}`, l, [...known, ...tokens], allow));
    expect(report(leaks)).toEqual([]);
  });

  it('the interface log (outbound_calls) masks what it keeps', async () => {
    const rows = await s.platform.deps.db.select().from(outboundCalls);
    const parties = new Set(rows.map((r) => r.party));
    // Every kind of party was called, so the scan covers their payloads.
    for (const p of ['his', 'wechatpay', 'alipay', 'bankpay', 'nhsa', 'wechat-auth'])
      expect([p, parties.has(p)]).toEqual([p, true]);
    const leaks = rows.flatMap((r) =>
      findLeaks(
        `outbound_calls#${r.id} ${r.party}/${r.operation}`,
        JSON.stringify([r.url, r.request, r.response, r.errorMessage]),
        [...known, ...tokens],
        allow,
      ),
    );
    expect(report(leaks)).toEqual([]);
    const clear = rows.flatMap((r) =>
      [...clearCredentials(r.request), ...clearCredentials(r.response)].map(
        (p) => `${r.party}/${r.operation} ${p}`,
      ),
    );
    expect([...new Set(clear)]).toEqual([]);
  });

  it('the open-API call log and the admin-visible inbox errors mask what they keep', async () => {
    const calls = await s.platform.deps.db.select().from(openApiCalls);
    expect(calls.length).toBeGreaterThan(0);
    const inbox = await s.platform.deps.db.select().from(notificationInbox);
    const leaks = [
      ...calls.flatMap((c) =>
        findLeaks(`open_api_calls#${c.id}`, JSON.stringify(c), [...known, ...tokens], allow),
      ),
      // Raw bodies are kept on purpose (signed evidence, encrypted resources); their error texts and headers are not.
      ...inbox.flatMap((n) =>
        findLeaks(
          `notification_inbox#${n.id}`,
          JSON.stringify([n.error, n.headers]),
          [...known, ...tokens],
          allow,
        ),
      ),
    ];
    expect(report(leaks)).toEqual([]);
  });
});
