import { count, eq } from 'drizzle-orm';
import {
  bills,
  creditDebits,
  creditFamilyMembers,
  insuranceSettlements,
  orders,
  patientCards,
  patientMessages,
  patients,
} from '../../bff/src/db/schema';
import { patientRoutes } from '../../bff/src/http/routes';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * Security suite (issue 10): the patient API never shows or changes one patient's data for another. 张三 (P0001)
 * gets one of everything — bills, a paid order with its e-invoice, an insurance order, messages, a bound card,
 * a credit agreement with a debit and a family member, an inpatient stay with a deposit — and 李四 (P0002) tries
 * every patient route that takes an id with 张三's ids: each answers 404 (never 403: existence does not leak)
 * and nothing changes. The routes are read from the router, so a new route with an id fails this file until it
 * is covered here.
 */

interface Probe {
  method: 'GET' | 'POST' | 'DELETE';
  /** The route as the router declares it (under /api). */
  route: string;
  /** The path with 张三's ids filled in. */
  path: () => string;
  body?: () => unknown;
}

describe('security: patient isolation', () => {
  let s: TestStack;
  let zhang: string;
  let li: string;
  const db = () => s.platform.deps.db;
  const ids = {} as {
    billId: string;
    paidOrderId: string;
    invoiceNo: string;
    insuranceOrderId: string;
    messageId: string;
    cardId: string;
    familyId: string;
    depositId: string;
    childPatientId: string;
    debitOrderId: string;
  };

  /** What a cross-patient call could change, counted. */
  const snapshot = async () => ({
    orders: (await db().select({ n: count() }).from(orders))[0]!.n,
    orderStatuses: (await db().select({ id: orders.id, s: orders.status }).from(orders)).sort((a, b) =>
      a.id.localeCompare(b.id),
    ),
    bills: (await db().select({ id: bills.id, s: bills.status, l: bills.lockedOrderId }).from(bills)).sort(
      (a, b) => a.id.localeCompare(b.id),
    ),
    cards: (await db().select({ n: count() }).from(patientCards))[0]!.n,
    family: (
      await db()
        .select({ id: creditFamilyMembers.id, s: creditFamilyMembers.status })
        .from(creditFamilyMembers)
    ).sort((a, b) => a.id.localeCompare(b.id)),
    unread: (
      await db().select({ id: patientMessages.id, r: patientMessages.readAt }).from(patientMessages)
    ).filter((m) => m.r === null).length,
    settlements: (await db().select({ s: insuranceSettlements.status }).from(insuranceSettlements)).map(
      (x) => x.s,
    ),
    debits: (await db().select({ n: count() }).from(creditDebits))[0]!.n,
  });

  const probes: Probe[] = [
    { method: 'GET', route: '/api/bills/:billId/detail', path: () => `/api/bills/${ids.billId}/detail` },
    { method: 'GET', route: '/api/orders/:id', path: () => `/api/orders/${ids.paidOrderId}` },
    { method: 'GET', route: '/api/orders/:id/qr', path: () => `/api/orders/${ids.paidOrderId}/qr` },
    {
      method: 'GET',
      route: '/api/orders/:id/invoices',
      path: () => `/api/orders/${ids.paidOrderId}/invoices`,
    },
    {
      method: 'GET',
      route: '/api/orders/:id/invoices/:invoiceNo/file',
      path: () => `/api/orders/${ids.paidOrderId}/invoices/${ids.invoiceNo}/file`,
    },
    {
      method: 'GET',
      route: '/api/insurance/orders/:id',
      path: () => `/api/insurance/orders/${ids.insuranceOrderId}`,
    },
    {
      method: 'POST',
      route: '/api/insurance/orders/:id/pay',
      path: () => `/api/insurance/orders/${ids.insuranceOrderId}/pay`,
    },
    {
      method: 'POST',
      route: '/api/insurance/orders/:id/return',
      path: () => `/api/insurance/orders/${ids.insuranceOrderId}/return`,
    },
    {
      method: 'POST',
      route: '/api/insurance/orders/:id/cancel',
      path: () => `/api/insurance/orders/${ids.insuranceOrderId}/cancel`,
    },
    {
      method: 'POST',
      route: '/api/patient/messages/:id/read',
      path: () => `/api/patient/messages/${ids.messageId}/read`,
    },
    { method: 'DELETE', route: '/api/patient/cards/:id', path: () => `/api/patient/cards/${ids.cardId}` },
    {
      method: 'POST',
      route: '/api/patient/cards/:id/switch',
      path: () => `/api/patient/cards/${ids.cardId}/switch`,
    },
    { method: 'DELETE', route: '/api/credit/family/:id', path: () => `/api/credit/family/${ids.familyId}` },
    {
      method: 'POST',
      route: '/api/inpatient/deposits/:id/orders',
      path: () => `/api/inpatient/deposits/${ids.depositId}/orders`,
      body: () => ({ channel: 'wechatpay', tradeType: 'NATIVE' }),
    },
  ];
  /** Routes with a parameter that is not a patient's record id, and why they are not probed above. */
  const NOT_IDS: Record<string, string> = {
    'GET /api/slips/:token':
      'a signed bearer token printed on the slip (its QR); a forged one is refused below, a real one names no amount',
  };

  beforeAll(async () => {
    s = await startTestStack();
    zhang = await s.login('P0001');
    li = await s.login('P0002');

    // A bill, and a paid order with an e-invoice.
    ids.billId = (await s.pushBill({ patientId: 'P0001', amountFen: 1800 })).billId;
    const paidBill = await s.pushBill({ patientId: 'P0001', amountFen: 2300 });
    const order = await s.api('POST', '/api/orders', {
      token: zhang,
      body: { billIds: [paidBill.billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    ids.paidOrderId = order.body.id;
    s.sandbox.wechat.pay(order.body.orderNo);
    const invoices = await waitFor(
      async () => {
        const r = await s.api('GET', `/api/orders/${ids.paidOrderId}/invoices`, { token: zhang });
        return r.status === 200 && r.body.invoices?.length ? r.body.invoices : undefined;
      },
      15_000,
      'e-invoice of the paid order',
    );
    ids.invoiceNo = invoices[0].invoiceNo;

    // An insurance order (quoted, not paid).
    const { authCode } = (await (
      await fetch(`${s.sandbox.nhsa.url}/sim/nhsa/authorize`, {
        method: 'POST',
        body: JSON.stringify({ psnNo: '11000000000000000001' }),
      })
    ).json()) as { authCode: string };
    expect(
      (await s.api('POST', '/api/insurance/authorize/complete', { token: zhang, body: { authCode } })).status,
    ).toBe(200);
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
    ids.insuranceOrderId = quote.body.orderId;

    // A message (every pushed bill records bill_waiting), a bound card of the child.
    const messages = await s.api('GET', '/api/patient/messages', { token: zhang });
    ids.messageId = messages.body.messages[0].id;
    const card = await s.api('POST', '/api/patient/cards', {
      token: zhang,
      body: { name: '张小明', cardNo: '2026000103' },
    });
    expect(card.status).toBe(201);
    ids.cardId = card.body.id;
    ids.childPatientId = card.body.patientId ?? card.body.patient?.id;

    // An inpatient stay with a deposit to pay (before the credit agreement, which would debit it at once).
    const admissionNo = `ZY${Date.now()}`;
    expect(
      (
        await s.his('POST', '/open/v1/admissions', {
          admissionNo,
          patientId: 'P0001',
          patientName: '张三',
          admittedAt: new Date().toISOString(),
        })
      ).status,
    ).toBe(200);
    const dep = await s.his('POST', `/open/v1/admissions/${admissionNo}/deposits`, {
      hisDepositNo: `YJ${Date.now()}`,
      amountFen: 100_000,
    });
    expect(dep.status).toBe(200);
    ids.depositId = dep.body.id;
    // Credit pay: an agreement, a debit, and the child as a family member.
    const [p] = await db().select().from(patients).where(eq(patients.hisPatientId, 'P0001'));
    await fetch(`${s.sandbox.credit.url}/sim/credit/limits`, {
      method: 'POST',
      body: JSON.stringify({ userRef: p!.id, limitFen: 50_000 }),
    });
    const sign = await s.api('POST', '/api/credit/sign', {
      token: zhang,
      body: { returnUrl: 'http://127.0.0.1:10086/h5/credit/return' },
    });
    await fetch(sign.body.pageUrl, {
      method: 'POST',
      body: 'action=agree',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      redirect: 'manual',
    });
    expect((await s.api('GET', '/api/credit/status', { token: zhang })).body.status).toBe('SIGNED');
    const debited = await s.pushBill({ patientId: 'P0001', amountFen: 1500 });
    const debit = await waitFor(
      async () => {
        const [d] = await db().select().from(creditDebits).where(eq(creditDebits.billId, debited.billId));
        return d?.status === 'SUCCESS' ? d : undefined;
      },
      15_000,
      'credit debit',
    );
    ids.debitOrderId = debit.orderId!;
    const [child] = await db().select().from(patients).where(eq(patients.hisPatientId, 'P0003'));
    ids.childPatientId = child!.id;
    const fam = await s.api('POST', '/api/credit/family', {
      token: zhang,
      body: { patientId: child!.id, relation: '子女' },
    });
    expect(fam.status).toBe(201);
    ids.familyId = fam.body.id;

    // Let everything the setup started finish (HIS pushes, messages), so the snapshots below are still.
    let last = JSON.stringify(await snapshot());
    await waitFor(
      async () => {
        await new Promise((res) => setTimeout(res, 1000));
        const now = JSON.stringify(await snapshot());
        const still = now === last;
        last = now;
        return still;
      },
      20_000,
      'the setup to settle',
    );
  }, 90_000);
  afterAll(async () => {
    await s?.stop();
  });

  it('probes exactly the patient routes that take an id (a new one must be added here)', () => {
    const router = patientRoutes(s.platform.deps, 'x'.repeat(32));
    const withParams = router.stack
      .filter((l) => String(l.path).includes(':'))
      .flatMap((l) => l.methods.filter((m) => m !== 'HEAD').map((m) => `${m} ${String(l.path)}`))
      .sort();
    const covered = [...probes.map((p) => `${p.method} ${p.route}`), ...Object.keys(NOT_IDS)].sort();
    expect(withParams).toEqual(covered);
  });

  it('the owner reaches every record (the probes use real ids)', async () => {
    for (const p of probes.filter((x) => x.method === 'GET')) {
      const r = await fetch(`${s.platform.url}${p.path()}`, {
        headers: { authorization: `Bearer ${zhang}` },
      });
      // 200, or for the QR of an order already paid 409 order_not_payable: found, in any case.
      expect([p.route, r.status === 200 || r.status === 409]).toEqual([p.route, true]);
    }
  });

  it.each(probes.map((p) => [`${p.method} ${p.route}`, p] as const))(
    "%s with the other patient's id: 404, and nothing changes",
    async (_name, p) => {
      const before = await snapshot();
      const r = await s.api(p.method, p.path(), { token: li, body: p.body?.() });
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe('not_found');
      // The answer names nothing of the record: no amount, no name, no number.
      expect(JSON.stringify(r.body)).not.toMatch(/张三|2026000103|张小明|1800|2300/);
      expect(await snapshot()).toEqual(before);
    },
  );

  it("an id that does not exist answers exactly like another patient's (existence does not leak)", async () => {
    for (const p of probes) {
      const real = await s.api(p.method, p.path(), { token: li, body: p.body?.() });
      const fakePath = p.path().replace(/\/([a-z]+)_[0-9A-Za-z]+/, '/$1_00000000000000000000');
      expect(fakePath).not.toBe(p.path());
      const fake = await s.api(p.method, fakePath, { token: li, body: p.body?.() });
      expect([p.route, fake.status, fake.body.error?.code]).toEqual([
        p.route,
        real.status,
        real.body.error?.code,
      ]);
    }
  });

  it("writes that take the other patient's bill ids are refused with 404 and change nothing", async () => {
    const before = await snapshot();
    const order = await s.api('POST', '/api/orders', {
      token: li,
      body: { billIds: [ids.billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(order.status).toBe(404);
    const quote = await s.api('POST', '/api/insurance/quotes', {
      token: li,
      body: { billIds: [ids.billId] },
    });
    expect([403, 404]).toContain(quote.status); // 李四 is not authorised for insurance: refused before any lookup
    const family = await s.api('POST', '/api/credit/family', {
      token: li,
      body: { patientId: ids.childPatientId, relation: '子女' },
    });
    expect(family.status).toBeGreaterThanOrEqual(400);
    expect(family.status).toBeLessThan(500);
    expect(await snapshot()).toEqual(before);
  });

  it("lists show only the caller's own records", async () => {
    const get = async (path: string) => JSON.stringify((await s.api('GET', path, { token: li })).body);
    const mine = async (path: string) => JSON.stringify((await s.api('GET', path, { token: zhang })).body);
    const lists = [
      '/api/patient/bills',
      '/api/patient/orders',
      '/api/patient/messages',
      '/api/patient/cards',
      '/api/credit/debits',
      '/api/credit/status',
      '/api/inpatient/admissions',
      '/api/insurance/status',
    ];
    const secrets = [
      ids.billId,
      ids.paidOrderId,
      ids.messageId,
      ids.cardId,
      ids.depositId,
      ids.debitOrderId,
      ids.familyId,
    ];
    const zhangSees = (await Promise.all(lists.map(mine))).join();
    // 张三 sees his own (so the check below is not vacuous)...
    for (const id of [ids.billId, ids.paidOrderId, ids.messageId, ids.cardId, ids.depositId])
      expect(zhangSees).toContain(id);
    // ...and 李四 sees none of it, nor his name or card numbers.
    for (const path of lists) {
      const body = await get(path);
      for (const id of secrets) expect([path, body.includes(id)]).toEqual([path, false]);
      expect(body).not.toMatch(/张三|张小明|2026000101|2026000103/);
    }
  });

  it('a forged or altered slip token shows nothing', async () => {
    for (const t of ['x', 'eyJhbGciOiJIUzI1NiJ9.eyJwIjoiUDAwMDEifQ.AAAA', 'a'.repeat(300)]) {
      const r = await s.api('GET', `/api/slips/${t}`);
      expect(r.status).toBeGreaterThanOrEqual(400);
      expect(r.status).toBeLessThan(500);
      expect(JSON.stringify(r.body)).not.toMatch(/张三|amountFen/);
    }
    expect(NOT_IDS['GET /api/slips/:token']).toBeTruthy();
  });
});
