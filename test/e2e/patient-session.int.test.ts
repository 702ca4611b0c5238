import jsQR from 'jsqr';
import { PNG } from 'pngjs';
import { SANDBOX_WECHAT_APPS, WechatLoginSimulator } from '../../bff/src/sandbox/wechatpay/login';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The patient client's backend beyond bills and orders: WeChat login (mini-program code2session and
 * official-account OAuth, both against the WeChat simulator), sessions without a patient until a card is bound,
 * switching between family members' cards, the slip session, order history and detail, pay parameters.
 */
describe('patient sessions, WeChat login, history', () => {
  let s: TestStack;
  beforeAll(async () => {
    s = await startTestStack();
  });
  afterAll(async () => {
    await s?.stop();
  });

  const miniCode = (user = '张三的微信') =>
    s.sandbox.wechat.login.issueCode(SANDBOX_WECHAT_APPS.miniProgram.appId, user);

  it('mini-program login: code → openid → account; no card yet, bind one, switch to it, then bills', async () => {
    const r = await s.api('POST', '/api/patient/wx-login', {
      body: { code: miniCode('新用户A'), hospitalCode: 'H001' },
    });
    expect(r.status).toBe(200);
    expect(r.body.patient).toBeNull();
    expect(r.body.hospital).toMatchObject({ code: 'H001' });
    const bare = r.body.token as string;
    // A session without a patient may manage cards, nothing else.
    const bills = await s.api('GET', '/api/patient/bills', { token: bare });
    expect(bills.status).toBe(403);
    expect(bills.body.error.code).toBe('card_required');
    expect((await s.api('GET', '/api/patient/cards', { token: bare })).body.cards).toEqual([]);
    const bound = await s.api('POST', '/api/patient/cards', {
      token: bare,
      body: { name: '张三', cardNo: '2026000101' },
    });
    expect(bound.status).toBe(201);
    const sw = await s.api('POST', `/api/patient/cards/${bound.body.id}/switch`, { token: bare });
    expect(sw.status).toBe(200);
    expect(sw.body.patient).toMatchObject({ name: '张三' });
    const { billId } = await s.pushBill({ amountFen: 1234 });
    const list = await s.api('GET', '/api/patient/bills', { token: sw.body.token });
    expect(list.body.bills.map((b: { id: string }) => b.id)).toContain(billId);

    // The next login of the same WeChat user lands on the card at once; the openid makes JSAPI possible.
    const again = await s.api('POST', '/api/patient/wx-login', {
      body: { code: miniCode('新用户A'), hospitalCode: 'H001' },
    });
    expect(again.body.patient).toMatchObject({ id: sw.body.patient.id });
    const jsapi = await s.api('POST', '/api/orders', {
      token: again.body.token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'JSAPI' },
    });
    expect(jsapi.status).toBe(201);
    expect(jsapi.body.pay.jsapi).toMatchObject({
      signType: 'RSA',
      package: expect.stringMatching(/^prepay_id=/),
    });
    const o = s.sandbox.wechat.orders.get(jsapi.body.orderNo);
    expect(o?.payer_openid).toBe(
      WechatLoginSimulator.openIdOf(SANDBOX_WECHAT_APPS.miniProgram.appId, '新用户A'),
    );
  });

  it('refuses invalid and used codes with WeChat’s own errors kept as the cause', async () => {
    const bad = await s.api('POST', '/api/patient/wx-login', {
      body: { code: 'not-a-code', hospitalCode: 'H001' },
    });
    expect(bad.status).toBe(401);
    expect(bad.body.error.code).toBe('unauthorized');
    const code = miniCode();
    expect(
      (await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } })).status,
    ).toBe(200);
    const used = await s.api('POST', '/api/patient/wx-login', { body: { code, hospitalCode: 'H001' } });
    expect(used.status).toBe(401);
    // An official-account code is not a mini-program code.
    const oaCode = s.sandbox.wechat.login.issueCode(SANDBOX_WECHAT_APPS.officialAccount.appId);
    expect((await s.api('POST', '/api/patient/wx-login', { body: { code: oaCode } })).status).toBe(401);
    s.sandbox.wechat.login.quotaFaults = 1;
    const limited = await s.api('POST', '/api/patient/wx-login', {
      body: { code: miniCode(), hospitalCode: 'H001' },
    });
    expect(limited.status).toBe(429);
    const unknownHospital = await s.api('POST', '/api/patient/wx-login', {
      body: { code: miniCode(), hospitalCode: 'NOPE' },
    });
    expect(unknownHospital.status).toBe(404);
  });

  it('official-account OAuth: the authorize page redirects back with a code, exchanged for a session', async () => {
    const opts = await s.api('GET', '/api/patient/login-options');
    expect(opts.status).toBe(200);
    expect(opts.body).toMatchObject({
      sandbox: true,
      miniProgramAppId: SANDBOX_WECHAT_APPS.miniProgram.appId,
      officialAccount: { appId: SANDBOX_WECHAT_APPS.officialAccount.appId },
    });
    expect(opts.body.sandboxPatients).toEqual(
      expect.arrayContaining([{ hospitalCode: 'H001', hisPatientId: 'P0001', name: '张*' }]),
    );
    const authorize = new URL(opts.body.officialAccount.authorizeUrl);
    authorize.search = new URLSearchParams({
      appid: opts.body.officialAccount.appId,
      redirect_uri: 'http://127.0.0.1:9/h5/login?next=%2Fbills',
      response_type: 'code',
      scope: 'snsapi_base',
      state: 'st4te',
    }).toString();
    const page = await fetch(authorize);
    expect(page.status).toBe(200);
    const href = /id="user-0" href="([^"]+)"/.exec(await page.text())![1]!.replaceAll('&#38;', '&');
    const approve = await fetch(new URL(href, authorize), { redirect: 'manual' });
    expect(approve.status).toBe(302);
    const back = new URL(approve.headers.get('location')!);
    expect(back.pathname).toBe('/h5/login');
    expect(back.searchParams.get('state')).toBe('st4te');
    expect(back.searchParams.get('next')).toBe('/bills');
    const login = await s.api('POST', '/api/patient/wx-oauth-login', {
      body: { code: back.searchParams.get('code'), hospitalCode: 'H001' },
    });
    expect(login.status).toBe(200);
    expect(login.body.patient).toBeNull();
    // The code is single-use.
    const again = await s.api('POST', '/api/patient/wx-oauth-login', {
      body: { code: back.searchParams.get('code'), hospitalCode: 'H001' },
    });
    expect(again.status).toBe(401);
  });

  it('slip session: the own patient or a bound card; anyone else must bind the card first', async () => {
    const { hisBillNo } = await s.pushBill({ amountFen: 990, patientId: 'P0003' });
    const qr = await s.his('GET', `/open/v1/bills/${hisBillNo}/qr`);
    const token = decodeURIComponent(new URL(qr.body.url).searchParams.get('t')!);
    // The child's own sandbox session is let through.
    const child = await s.login('P0003');
    const own = await s.api('POST', '/api/patient/slip-session', { token: child, body: { token } });
    expect(own.status).toBe(200);
    expect(own.body.patient.name).toBe('张小明');
    // The parent must bind the child's card first; then the slip switches the session to the child.
    const parent = await s.login('P0001');
    const refused = await s.api('POST', '/api/patient/slip-session', { token: parent, body: { token } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toMatchObject({
      code: 'card_required',
      message: expect.stringContaining('张*明'),
    });
    expect(
      (
        await s.api('POST', '/api/patient/cards', {
          token: parent,
          body: { name: '张小明', cardNo: '2026000103' },
        })
      ).status,
    ).toBe(201);
    const ok = await s.api('POST', '/api/patient/slip-session', { token: parent, body: { token } });
    expect(ok.status).toBe(200);
    expect(ok.body.patient.name).toBe('张小明');
    const bills = await s.api('GET', '/api/patient/bills', { token: ok.body.token });
    expect(bills.body.bills.map((b: { hisBillNo: string }) => b.hisBillNo)).toContain(hisBillNo);
  });

  it('order history (newest first, paged) and detail with bills, refunds and pay parameters', async () => {
    const token = await s.login('P0002');
    const made: { id: string; orderNo: string }[] = [];
    for (let i = 0; i < 3; i++) {
      const { billId } = await s.pushBill({ amountFen: 1000 + i, patientId: 'P0002', title: `检查费${i}` });
      const r = await s.api('POST', '/api/orders', {
        token,
        headers: { 'Idempotency-Key': `hist-${Date.now()}-${i}` },
        body: { billIds: [billId], channel: 'wechatpay', tradeType: 'H5' },
      });
      expect(r.status).toBe(201);
      expect(r.body.pay.h5Url).toContain(`/sim/cashier/wechatpay/${r.body.orderNo}`);
      made.push(r.body);
    }
    const first = await s.api('GET', '/api/patient/orders?limit=2', { token });
    expect(first.status).toBe(200);
    expect(first.body.orders.map((o: { id: string }) => o.id)).toEqual([made[2]!.id, made[1]!.id]);
    expect(first.body.orders[0]).toMatchObject({
      title: '检查费2',
      billCount: 1,
      status: 'PAYING',
      amountFen: 1002,
    });
    const next = await s.api('GET', `/api/patient/orders?limit=2&cursor=${first.body.nextCursor}`, { token });
    expect(next.body.orders.map((o: { id: string }) => o.id)).toEqual([made[0]!.id]);
    expect(next.body.nextCursor).toBeNull();
    expect((await s.api('GET', '/api/patient/orders?cursor=garbage', { token })).status).toBe(400);
    // Another patient sees none of them.
    const other = await s.login('P0001');
    const theirs = await s.api('GET', '/api/patient/orders', { token: other });
    expect(theirs.body.orders.map((o: { id: string }) => o.id)).not.toContain(made[0]!.id);
    expect((await s.api('GET', `/api/orders/${made[0]!.id}`, { token: other })).status).toBe(404);

    // Paid, then partly refunded by the HIS: the detail shows the bill, the refund and no pay parameters.
    s.sandbox.wechat.pay(made[0]!.orderNo);
    await waitFor(
      async () =>
        ['PAID', 'SETTLED'].includes(
          (await s.api('GET', `/api/orders/${made[0]!.id}`, { token })).body.status,
        ),
      15_000,
      'paid',
    );
    const refund = await s.his('POST', '/open/v1/refunds', {
      orderNo: made[0]!.orderNo,
      hisRefundNo: `HR${Date.now()}`,
      amountFen: 400,
      reason: '部分退药',
    });
    expect(refund.status).toBe(200);
    const detail = await waitFor(
      async () => {
        const d = await s.api('GET', `/api/orders/${made[0]!.id}`, { token });
        return d.body.refunds[0]?.status === 'SUCCESS' ? d.body : undefined;
      },
      15_000,
      'refund SUCCESS',
    );
    expect(detail).toMatchObject({
      status: 'PARTIALLY_REFUNDED',
      refundedFen: 400,
      pay: null,
      bills: [{ title: '检查费0', amountFen: 1000 }],
      refunds: [{ amountFen: 400, method: 'CHANNEL', reason: '部分退药' }],
    });
    const paying = await s.api('GET', `/api/orders/${made[1]!.id}`, { token });
    expect(paying.body.pay.h5Url).toContain('/sim/cashier/wechatpay/');
  });

  it('lists the channels the hospital takes from patients, without payment codes', async () => {
    const token = await s.login('P0001');
    const r = await s.api('GET', '/api/patient/channels', { token });
    expect(r.status).toBe(200);
    const byName = Object.fromEntries(
      r.body.channels.map((c: { channel: string; tradeTypes: string[] }) => [c.channel, c.tradeTypes]),
    );
    expect(byName.wechatpay).toEqual(expect.arrayContaining(['NATIVE', 'JSAPI', 'H5']));
    expect(byName.bankpay).toEqual(expect.arrayContaining(['H5']));
    for (const t of Object.values(byName)) expect(t).not.toContain('MICROPAY');
  });

  it('a NATIVE order’s QR for desktop browsers: a PNG of its codeUrl while it waits for the scan', async () => {
    const token = await s.login('P0001');
    const { billId } = await s.pushBill({ amountFen: 777 });
    const o = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(o.status).toBe(201);
    const res = await fetch(`${s.platform.url}/api/orders/${o.body.id}/qr`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('image/png');
    const png = PNG.sync.read(Buffer.from(await res.arrayBuffer()));
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(o.body.pay.codeUrl);
    expect(
      (await s.api('GET', `/api/orders/${o.body.id}/qr`, { token: await s.login('P0002') })).status,
    ).toBe(404);
    s.sandbox.wechat.pay(o.body.orderNo);
    await waitFor(
      async () => (await s.api('GET', `/api/orders/${o.body.id}`, { token })).body.status !== 'PAYING',
      15_000,
      'paid',
    );
    const after = await s.api('GET', `/api/orders/${o.body.id}/qr`, { token });
    expect(after.status).toBe(409);
    expect(after.body.error.code).toBe('order_not_payable');
  });
});
