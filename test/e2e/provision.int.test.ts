import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { eq, sql } from 'drizzle-orm';
import { hisApps, hospitals, merchantAccounts } from '../../bff/src/db/schema';
import { ProvisionError, provisionHospital } from '../../bff/src/modules/system/provision';
import { startTestStack, type TestStack } from '../support/platform';

const tlsFixture = (f: string) => readFileSync(path.join(__dirname, '../fixtures/tls', f), 'utf8');

/**
 * `npm run provision`: a hospital from a JSON file naming key files. The keys used here are the simulators',
 * so the provisioned accounts are proven by real signed calls, not by reading the rows back.
 */
describe('provisioning a hospital from a file', () => {
  let s: TestStack;
  let dir: string;
  beforeAll(async () => {
    s = await startTestStack();
    dir = mkdtempSync(path.join(tmpdir(), 'hp-provision-'));
    const k = s.sandbox.keys.hospitals.H001!;
    const files: Record<string, string> = {
      'wx_key.pem': k.wechat.privatePem,
      'apiv3.key': k.wechat.apiV3Key,
      'apiv2.key': k.wechat.apiV2Key,
      'wx_pub.pem': s.sandbox.keys.wechatPlatform.publicPem,
      'apiclient_cert.pem': tlsFixture('client.pem'),
      'apiclient_key.pem': tlsFixture('client.key'),
      'ali_key.pem': k.alipay.privatePem,
      'ali_pub.pem': s.sandbox.keys.alipayPlatform.publicPem,
      'bank_key.hex': k.bankpay.privateKeyHex,
      'bank_pub.hex': s.sandbox.keys.bankpayPlatform.publicKeyHex,
      'his.secret': 'x'.repeat(40),
      'short.secret': 'too-short',
    };
    for (const [f, v] of Object.entries(files)) writeFileSync(path.join(dir, f), `${v}\n`);
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await s?.stop();
  });

  function hospitalJson(overrides: Record<string, unknown> = {}) {
    const k = s.sandbox.keys.hospitals.H001!;
    return {
      id: 'hosp_city1',
      code: 'CITY1',
      name: '某市第一人民医院',
      wechatpay: {
        mchId: k.wechat.mchId,
        appId: k.wechat.appId,
        serialNo: k.wechat.serialNo,
        privateKeyFile: 'wx_key.pem',
        apiV3KeyFile: 'apiv3.key',
        apiV2KeyFile: 'apiv2.key',
        platformKeyId: s.sandbox.keys.wechatPlatform.keyId,
        platformPublicKeyFile: 'wx_pub.pem',
        apiClientCertFile: 'apiclient_cert.pem',
        apiClientKeyFile: 'apiclient_key.pem',
        baseUrl: s.sandbox.wechat.url,
      },
      alipay: {
        appId: k.alipay.appId,
        sellerId: k.alipay.sellerId,
        privateKeyFile: 'ali_key.pem',
        alipayPublicKeyFile: 'ali_pub.pem',
        baseUrl: s.sandbox.alipay.url,
      },
      bankpay: {
        appId: k.bankpay.appId,
        merchantNo: k.bankpay.merchantNo,
        keyId: k.bankpay.keyId,
        privateKeyFile: 'bank_key.hex',
        bankKeyId: s.sandbox.keys.bankpayPlatform.keyId,
        bankPublicKeyFile: 'bank_pub.hex',
        baseUrl: s.sandbox.bankpay.url,
      },
      his: { appId: 'his_city1', secretFile: 'his.secret', callbackBaseUrl: s.sandbox.his.url },
      ...overrides,
    };
  }
  function write(name: string, body: unknown) {
    const f = path.join(dir, name);
    writeFileSync(f, JSON.stringify(body));
    return f;
  }
  const provision = (f: string, production = false) =>
    provisionHospital(s.platform.deps.db, s.platform.deps.secrets, f, {
      production,
      outboundTimeoutMs: 5000,
    });
  const counts = async () =>
    (
      (await s.platform.deps.db.execute(
        sql`SELECT (SELECT count(*) FROM hospitals)::int AS h, (SELECT count(*) FROM merchant_accounts)::int AS m, (SELECT count(*) FROM his_apps)::int AS a`,
      )) as unknown as { rows: { h: number; m: number; a: number }[] }
    ).rows[0]!;

  it('refuses a bad file with a message naming the field, and writes nothing', async () => {
    const before = await counts();
    const cases: [unknown, RegExp][] = [
      [{ ...hospitalJson(), id: 'city1' }, /id: hosp_ followed by/],
      [{ ...hospitalJson(), extra: 1 }, /extra/],
      [
        { ...hospitalJson(), alipay: { ...hospitalJson().alipay, sellerId: '123' } },
        /^alipay: .*seller id \(PID\) is 2088/,
      ],
      [
        { ...hospitalJson(), bankpay: { ...hospitalJson().bankpay, privateKeyFile: 'nope.hex' } },
        /bankpay\.privateKeyFile: cannot read nope\.hex/,
      ],
      [
        { ...hospitalJson(), bankpay: { ...hospitalJson().bankpay, bankPublicKeyFile: 'bank_key.hex' } },
        /^bankpay: .*uncompressed SM2 public key/,
      ],
      [
        {
          ...hospitalJson(),
          wechatpay: { ...hospitalJson().wechatpay, apiClientKeyFile: undefined },
        },
        /apiClientCertFile and apiClientKeyFile come together/,
      ],
      [{ ...hospitalJson(), his: { appId: 'his_city1', secretFile: 'short.secret' } }, /at least 32/],
    ];
    for (const [i, [body, message]] of cases.entries()) {
      const outcome = await provision(write('bad.json', body)).then(
        () => 'provisioned',
        (e: Error) => e.message,
      );
      expect({ i, outcome }).toEqual({ i, outcome: expect.stringMatching(message) });
    }
    // Production: every channel URL must be https (the first one found is named).
    await expect(provision(write('prod.json', hospitalJson()), true)).rejects.toThrow(
      /wechatpay\.baseUrl must be https:\/\/ in production/,
    );
    await expect(provision(path.join(dir, 'missing.json'))).rejects.toBeInstanceOf(ProvisionError);
    expect(await counts()).toEqual(before);
  });

  it('provisions all three channels and the HIS app; each account makes verified calls to its channel', async () => {
    const r = await provision(write('city1.json', hospitalJson()));
    expect(r.accounts.map((a) => a.id)).toEqual([
      'ma_city1_wechatpay',
      'ma_city1_alipay',
      'ma_city1_bankpay',
    ]);
    // The sandbox speaks plain http, so no certificate warning; the key stays sealed, the cert is a setting.
    expect(r.warnings).toEqual([]);
    const [wx] = await s.platform.deps.db
      .select()
      .from(merchantAccounts)
      .where(eq(merchantAccounts.id, 'ma_city1_wechatpay'));
    expect(JSON.stringify(wx!.settings)).toContain('BEGIN CERTIFICATE');
    expect(wx!.secretsEnc).not.toContain('PRIVATE KEY');
    const sealed = JSON.parse(s.platform.deps.secrets.open(wx!.secretsEnc)) as Record<string, string>;
    expect(Object.keys(sealed).sort()).toEqual(['apiClientKeyPem', 'apiV2Key', 'apiV3Key', 'privateKeyPem']);

    for (const channel of ['wechatpay', 'alipay', 'bankpay']) {
      const acc = await s.platform.deps.channels.forHospital('hosp_city1', channel);
      // An order nobody created: a signed "does not exist" reply, verified with the provisioned keys.
      const q = await acc.adapter.queryPayment(`NOSUCH${channel}${Date.now()}`);
      expect({ channel, result: q.result, state: q.payment?.state }).toEqual({
        channel,
        result: 'SUCCESS',
        state: 'NOT_FOUND',
      });
    }
    const [app] = await s.platform.deps.db.select().from(hisApps).where(eq(hisApps.appId, 'his_city1'));
    expect(s.platform.deps.secrets.open(app!.secretEnc)).toBe('x'.repeat(40));
  });

  it('re-running updates in place: a renamed hospital keeps its three accounts', async () => {
    const body = hospitalJson({ name: '某市第一人民医院（新院区）' });
    await provision(write('city1.json', body));
    const [h] = await s.platform.deps.db.select().from(hospitals).where(eq(hospitals.id, 'hosp_city1'));
    expect(h!.name).toBe('某市第一人民医院（新院区）');
    const accounts = await s.platform.deps.db
      .select()
      .from(merchantAccounts)
      .where(eq(merchantAccounts.hospitalId, 'hosp_city1'));
    expect(accounts).toHaveLength(3);
  });
});
