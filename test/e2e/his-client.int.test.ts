import {
  BillDetailSchema,
  OrderInvoicesResponseSchema,
  PatientBillsResponseSchema,
  PatientCardSchema,
} from '@hp/shared';
import { and, eq } from 'drizzle-orm';
import { bills, hisApps, invoices, outboundCalls, patientCards, patients } from '../../bff/src/db/schema';
import { signedHeaders } from '../../bff/src/modules/his/signature';
import { buildBill } from '../support/factories';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

/**
 * The HIS client's pull operations against the HIS simulator, through the patient API: pull-mode bills,
 * card binding, prescription detail, e-invoices — and that no card or ID number reaches the interface log.
 */
describe('HIS client: pull-mode bills, cards, prescriptions, invoices', () => {
  let s: TestStack;
  let token: string; // P0001
  let other: string; // P0002
  const H001 = 'hosp_h001';
  beforeAll(async () => {
    s = await startTestStack();
    token = await s.login('P0001');
    other = await s.login('P0002');
  });
  afterAll(async () => {
    s.sandbox.his.setFaults({ down: false, failNext: 0 });
    await s?.stop();
  });
  afterEach(() => s.sandbox.his.setFaults({ down: false, failNext: 0, delayMs: 0 }));

  const db = () => s.platform.deps.db;
  const setBillMode = (billMode: 'push' | 'pull') =>
    db().update(hisApps).set({ billMode }).where(eq(hisApps.hospitalId, H001));
  const listBills = async (t = token) => {
    const r = await s.api('GET', '/api/patient/bills', { token: t });
    expect(r.status).toBe(200);
    PatientBillsResponseSchema.parse(r.body); // the shared contract, as the client reads it
    return r.body as {
      bills: { id: string; hisBillNo: string; amountFen: number; payingOrderId: string | null }[];
      billMode: string;
      hisUnavailable: boolean;
    };
  };
  const billRow = async (hisBillNo: string) =>
    (await db().select().from(bills).where(eq(bills.hisBillNo, hisBillNo)))[0];
  /** A raw GET (binary bodies). */
  const raw = async (path: string, t: string) => {
    const res = await fetch(`${s.platform.url}${path}`, { headers: { authorization: `Bearer ${t}` } });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  };

  describe('pull mode', () => {
    beforeAll(() => setBillMode('pull'));
    afterAll(() => setBillMode('push'));

    it('lists bills pulled from the HIS, stored like pushed ones (versioning included)', async () => {
      const input = buildBill({ amountFen: 4321, title: '拉取的账单' });
      s.sandbox.his.createBill(input);
      expect(await billRow(input.hisBillNo!)).toBeUndefined();

      const first = await listBills();
      expect(first).toMatchObject({ billMode: 'pull', hisUnavailable: false });
      const listed = first.bills.find((b) => b.hisBillNo === input.hisBillNo);
      expect(listed).toMatchObject({ amountFen: 4321 });
      expect(await billRow(input.hisBillNo!)).toMatchObject({
        version: 1,
        status: 'UNPAID',
        amountFen: 4321,
      });

      // The HIS changes the unpaid bill: a new version, as a push would make.
      s.sandbox.his.createBill({ ...input, amountFen: 4400 });
      const again = await listBills();
      expect(again.bills.find((b) => b.hisBillNo === input.hisBillNo)).toMatchObject({
        id: listed!.id,
        amountFen: 4400,
      });
      expect(await billRow(input.hisBillNo!)).toMatchObject({ version: 2, amountFen: 4400 });

      // Another patient sees none of it.
      const theirs = await listBills(other);
      expect(theirs.bills.map((b) => b.hisBillNo)).not.toContain(input.hisBillNo);
    });

    it('refuses nothing that push mode would accept', async () => {
      const shapes = [
        { items: [], amountFen: 1 },
        { items: [], amountFen: 10_000_000_000, title: '大'.repeat(100) },
        {
          amountFen: 3150,
          department: '急诊科',
          doctor: '周医生',
          items: [
            { name: '布洛芬缓释胶囊', spec: '0.3g×20粒', quantity: 0.5, unit: '盒', amountFen: 1150 },
            { name: '静脉输液', quantity: 2, unit: '组', amountFen: 2000 },
          ],
        },
        { visitNo: undefined, department: undefined, doctor: undefined, amountFen: 990 },
      ];
      for (const shape of shapes) {
        // Push mode: through the signed open API…
        await setBillMode('push');
        const pushed = buildBill(shape);
        const r = await s.sandbox.his.pushBill(pushed);
        expect(r.status).toBe(200);
        // …and the same shape pulled.
        await setBillMode('pull');
        const pulled = buildBill(shape);
        s.sandbox.his.createBill(pulled);
        const list = await listBills();
        expect(list.hisUnavailable).toBe(false);
        expect(list.bills.find((b) => b.hisBillNo === pulled.hisBillNo)).toMatchObject({
          amountFen: shape.amountFen,
        });
      }
    });

    it('applies the push refusals, one bill at a time; offers only what the HIS still calls pending', async () => {
      const held = buildBill({ amountFen: 1800 });
      const free = buildBill({ amountFen: 2600 });
      const window = buildBill({ amountFen: 700 });
      for (const b of [held, free, window]) s.sandbox.his.createBill(b);
      const first = await listBills();
      const heldId = first.bills.find((b) => b.hisBillNo === held.hisBillNo)!.id;
      const order = await s.api('POST', '/api/orders', {
        token,
        body: { billIds: [heldId], channel: 'wechatpay', tradeType: 'NATIVE' },
      });
      expect(order.status).toBe(201);

      // The HIS changes both; the one being paid is refused (bill_locked) as a push would be, the other is not.
      s.sandbox.his.createBill({ ...held, amountFen: 1900 });
      s.sandbox.his.createBill({ ...free, amountFen: 2700 });
      // A bill paid at the window disappears from the HIS's pending list, so from ours.
      s.sandbox.his.payAtWindow('H001', window.hisBillNo!);
      const next = await listBills();
      expect(next.hisUnavailable).toBe(false);
      expect(next.bills.find((b) => b.hisBillNo === held.hisBillNo)).toMatchObject({
        amountFen: 1800,
        payingOrderId: order.body.id,
      });
      expect(next.bills.find((b) => b.hisBillNo === free.hisBillNo)).toMatchObject({ amountFen: 2700 });
      expect(next.bills.map((b) => b.hisBillNo)).not.toContain(window.hisBillNo);
      expect(await billRow(held.hisBillNo!)).toMatchObject({ amountFen: 1800, version: 1 });
    });

    it('lists the bills we hold, flagged, when the HIS is down or failing; never fails the page', async () => {
      const known = buildBill({ amountFen: 1234 });
      s.sandbox.his.createBill(known);
      await listBills();
      const unseen = buildBill({ amountFen: 5678 });
      s.sandbox.his.createBill(unseen);

      s.sandbox.his.setFaults({ down: true });
      const down = await listBills();
      expect(down).toMatchObject({ billMode: 'pull', hisUnavailable: true });
      expect(down.bills.map((b) => b.hisBillNo)).toContain(known.hisBillNo);
      expect(down.bills.map((b) => b.hisBillNo)).not.toContain(unseen.hisBillNo);

      s.sandbox.his.setFaults({ down: false, failNext: 1 });
      const failing = await listBills();
      expect(failing.hisUnavailable).toBe(true);
      expect(failing.bills.map((b) => b.hisBillNo)).toContain(known.hisBillNo);

      const back = await listBills();
      expect(back.hisUnavailable).toBe(false);
      expect(back.bills.map((b) => b.hisBillNo)).toContain(unseen.hisBillNo);
    });

    it('asks the HIS again when an order is made: a bill paid at the window is refused, a changed one charged anew', async () => {
      const window = buildBill({ amountFen: 1500 });
      const changed = buildBill({ amountFen: 2500 });
      const offline = buildBill({ amountFen: 3500 });
      for (const b of [window, changed, offline]) s.sandbox.his.createBill(b);
      const listed = (await listBills()).bills;
      const idOf = (no: string) => listed.find((b) => b.hisBillNo === no)!.id;
      const order = (billId: string) =>
        s.api('POST', '/api/orders', {
          token,
          body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
        });

      // Paid at the window after the patient's list was drawn: refused, and nothing locked or charged.
      s.sandbox.his.payAtWindow('H001', window.hisBillNo!);
      const refused = await order(idOf(window.hisBillNo!));
      expect(refused.status).toBe(409);
      expect(refused.body).toMatchObject({ error: { code: 'bill_not_payable' } });
      expect(await billRow(window.hisBillNo!)).toMatchObject({ status: 'UNPAID', lockedOrderId: null });

      // Changed at the HIS since the list: the order charges the HIS's amount (a new version of our bill).
      s.sandbox.his.createBill({ ...changed, amountFen: 2600 });
      const charged = await order(idOf(changed.hisBillNo!));
      expect(charged.status).toBe(201);
      expect(charged.body).toMatchObject({ amountFen: 2600 });
      expect(await billRow(changed.hisBillNo!)).toMatchObject({ version: 2, amountFen: 2600 });

      // The HIS not answering does not stop the patient: the push of the payment is then the check.
      s.sandbox.his.setFaults({ down: true });
      try {
        const anyway = await order(idOf(offline.hisBillNo!));
        expect(anyway.status).toBe(201);
        expect(anyway.body).toMatchObject({ amountFen: 3500 });
      } finally {
        s.sandbox.his.setFaults({ down: false });
      }
    });

    it('gives up on a HIS that answers too late (the outbound timeout) and lists what we hold', async () => {
      s.sandbox.his.setFaults({ delayMs: s.platform.deps.config.outboundTimeoutMs + 300 });
      const started = Date.now();
      const slow = await listBills();
      expect(slow.hisUnavailable).toBe(true);
      expect(Date.now() - started).toBeLessThan(s.platform.deps.config.outboundTimeoutMs + 250);
      const timedOut = await waitFor(async () =>
        (
          await db()
            .select()
            .from(outboundCalls)
            .where(and(eq(outboundCalls.operation, 'pending_bills'), eq(outboundCalls.result, 'UNKNOWN')))
        ).find((r) => r.errorMessage === 'HIS did not answer in time'),
      );
      expect(timedOut).toMatchObject({ party: 'his', errorCode: 'NETWORK_ERROR' });
    });
  });

  it('push mode does not call the HIS to list bills', async () => {
    const before = s.sandbox.his.calls.length;
    const list = await listBills();
    expect(list).toMatchObject({ billMode: 'push', hisUnavailable: false });
    expect(s.sandbox.his.calls.length).toBe(before);
  });

  describe('cards', () => {
    const cardsOf = async (t: string) => (await s.api('GET', '/api/patient/cards', { token: t })).body.cards;
    const cardRows = () => db().select().from(patientCards);

    it('refuses a wrong name or an unknown card with a clear code, and writes nothing', async () => {
      s.sandbox.his.addPatient({
        hospital: 'H001',
        patientId: 'P0009',
        name: '赵六',
        cardNo: '2026000109',
      });
      const wrong = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '赵七', cardNo: '2026000109' },
      });
      expect(wrong.status).toBe(422);
      expect(wrong.body.error.code).toBe('name_mismatch');
      expect(wrong.body.error.message).not.toContain('2026000109');
      expect(await cardRows()).toHaveLength(0);
      expect(await db().select().from(patients).where(eq(patients.hisPatientId, 'P0009'))).toHaveLength(0);

      const unknown = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '赵六', cardNo: '9999999999' },
      });
      expect(unknown.status).toBe(404);
      expect(unknown.body.error.code).toBe('not_found');

      const badId = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '赵六', idNo: '110101199003070012' },
      });
      expect(badId.status).toBe(400);
      expect(badId.body.error.message).toMatch(/^idNo: /);
      const both = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '赵六', cardNo: '2026000109', idNo: '110101199003070011' },
      });
      expect(both.status).toBe(400);

      s.sandbox.his.setFaults({ down: true });
      const down = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '赵六', cardNo: '2026000109' },
      });
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('his_unavailable');
      expect(await cardRows()).toHaveLength(0);
    });

    it('binds, lists and unbinds; a family card may be on several accounts, once on each', async () => {
      const bound = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '张小明', cardNo: '2026000103' },
      });
      expect(bound.status).toBe(201);
      PatientCardSchema.parse(bound.body);
      expect(bound.body).toMatchObject({
        hospitalId: H001,
        patientName: '张*明',
        cardType: 'HOSPITAL_CARD',
        cardNoMasked: '******0103',
        current: false,
      });
      const twice = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '张小明', cardNo: '2026000103' },
      });
      expect(twice.status).toBe(409);
      expect(twice.body.error.code).toBe('card_already_bound');
      // The same patient by ID number is the same card for this account.
      const byId = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '张小明', idNo: '110101201506180044' },
      });
      expect(byId.status).toBe(409);

      // The patient's own card, by ID number.
      const own = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '张三', idNo: '110101199003070011' },
      });
      expect(own.status).toBe(201);
      expect(own.body).toMatchObject({
        cardType: 'ID_CARD',
        cardNoMasked: '110***********0011',
        current: true,
      });

      // Another account binds the same child's card (the other parent): allowed.
      const family = await s.api('POST', '/api/patient/cards', {
        token: other,
        body: { name: '张小明', cardNo: '2026000103' },
      });
      expect(family.status).toBe(201);

      const mine = await cardsOf(token);
      expect(mine.map((c: { id: string }) => c.id)).toEqual([bound.body.id, own.body.id]);
      expect(await cardsOf(other)).toHaveLength(1);

      // Unbinding another account's card: not found. Own: gone, and may be bound again.
      expect((await s.api('DELETE', `/api/patient/cards/${bound.body.id}`, { token: other })).status).toBe(
        404,
      );
      expect((await s.api('DELETE', `/api/patient/cards/${bound.body.id}`, { token })).status).toBe(204);
      expect((await s.api('DELETE', `/api/patient/cards/${bound.body.id}`, { token })).status).toBe(404);
      expect((await cardsOf(token)).map((c: { id: string }) => c.id)).toEqual([own.body.id]);
      expect(await cardsOf(other)).toHaveLength(1);
      const rebound = await s.api('POST', '/api/patient/cards', {
        token,
        body: { name: '张小明', cardNo: '2026000103' },
      });
      expect(rebound.status).toBe(201);

      // Only masked numbers are stored.
      const rows = JSON.stringify(await db().select().from(patientCards));
      expect(rows).not.toContain('2026000103');
      expect(rows).not.toContain('110101199003070011');
    });

    it('stops an account that keeps failing to bind (guessing who is a patient), and only that account', async () => {
      s.sandbox.his.addPatient({ hospital: 'H001', patientId: 'P0010', name: '钱七', cardNo: '2026000110' });
      const bind = (t: string, name: string) =>
        s.api('POST', '/api/patient/cards', { token: t, body: { name, cardNo: '2026000110' } });
      const before = s.sandbox.his.calls.length;
      for (let i = 0; i < 5; i++) expect((await bind(other, `猜${i}`)).status).toBe(422);
      expect(s.sandbox.his.calls.length).toBe(before + 5);
      // The sixth try is refused before the HIS is asked, even with the right name.
      const stopped = await bind(other, '钱七');
      expect(stopped.status).toBe(429);
      expect(stopped.body.error.code).toBe('rate_limited');
      expect(s.sandbox.his.calls.length).toBe(before + 5);
      // Another account is not held back.
      const fine = await bind(token, '钱七');
      expect(fine.status).toBe(201);
      await s.api('DELETE', `/api/patient/cards/${fine.body.id}`, { token });
    });
  });

  describe('prescription detail', () => {
    it('details the patient’s own bill with items and unit prices; another patient’s is not found', async () => {
      const bill = await s.pushBill({
        amountFen: 6100,
        department: '内分泌科',
        doctor: '吴医生',
        diagnosis: '2型糖尿病',
        items: [
          {
            name: '二甲双胍缓释片',
            spec: '0.5g×30片',
            quantity: 2,
            unit: '盒',
            unitPriceFen: 2300,
            amountFen: 4600,
            department: '门诊西药房',
          },
          { name: '血糖检测', quantity: 1, unit: '次', amountFen: 1500 },
        ],
      });
      const r = await s.api('GET', `/api/bills/${bill.billId}/detail`, { token });
      expect(r.status).toBe(200);
      BillDetailSchema.parse(r.body);
      expect(r.body).toMatchObject({
        billId: bill.billId,
        hisBillNo: bill.hisBillNo,
        status: 'UNPAID',
        amountFen: 6100,
        department: '内分泌科',
        doctor: '吴医生',
        diagnosis: '2型糖尿病',
      });
      expect(r.body.items).toEqual([
        {
          name: '二甲双胍缓释片',
          spec: '0.5g×30片',
          quantity: 2,
          unit: '盒',
          unitPriceFen: 2300,
          amountFen: 4600,
          department: '门诊西药房',
        },
        {
          name: '血糖检测',
          spec: null,
          quantity: 1,
          unit: '次',
          unitPriceFen: 1500,
          amountFen: 1500,
          department: null,
        },
      ]);
      expect(typeof r.body.prescribedAt).toBe('string');

      const theirs = await s.api('GET', `/api/bills/${bill.billId}/detail`, { token: other });
      expect(theirs.status).toBe(404);
      expect(theirs.body.error.code).toBe('not_found');
      expect((await s.api('GET', '/api/bills/bill_nope/detail', { token })).status).toBe(404);
      expect((await s.api('GET', `/api/bills/${bill.billId}/detail`)).status).toBe(401);

      s.sandbox.his.setFaults({ down: true });
      const down = await s.api('GET', `/api/bills/${bill.billId}/detail`, { token });
      expect(down.status).toBe(503);
      expect(down.body.error.code).toBe('his_unavailable');
    });
  });

  describe('e-invoices', () => {
    it('lists the invoice of a paid order and serves its PDF; only to the owner; cached while the HIS is down', async () => {
      const { billId, hisBillNo } = await s.pushBill({ amountFen: 12850, title: '门诊西药费' });
      const created = await s.api('POST', '/api/orders', {
        token,
        body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
      });
      expect(created.status).toBe(201);
      const orderId = created.body.id as string;
      // Not paid yet: no invoice, and no HIS call for it.
      const before = await s.api('GET', `/api/orders/${orderId}/invoices`, { token });
      expect(before.body).toEqual({ invoices: [], hisUnavailable: false });

      s.sandbox.wechat.pay(created.body.orderNo);
      await waitFor(
        async () => (await s.api('GET', `/api/orders/${orderId}`, { token })).body.status === 'SETTLED',
        20_000,
        'SETTLED',
      );
      const list = await s.api('GET', `/api/orders/${orderId}/invoices`, { token });
      expect(list.status).toBe(200);
      OrderInvoicesResponseSchema.parse(list.body);
      expect(list.body.hisUnavailable).toBe(false);
      expect(list.body.invoices).toHaveLength(1);
      const inv = list.body.invoices[0];
      expect(inv).toMatchObject({ amountFen: 12850, contentType: 'application/pdf' });
      expect(inv.invoiceNo).toMatch(/^\d{10}$/);
      expect(inv.fileUrl).toBe(`/api/orders/${orderId}/invoices/${inv.invoiceNo}/file`);

      const file = await raw(inv.fileUrl, token);
      expect(file.status).toBe(200);
      expect(file.headers.get('content-type')).toBe('application/pdf');
      expect(file.headers.get('cache-control')).toBe('private, no-store');
      const pdf = file.body.toString('latin1');
      expect(pdf.startsWith('%PDF-')).toBe(true);
      const xrefAt = Number(/startxref\n(\d+)\n%%EOF\n$/.exec(pdf)![1]);
      expect(pdf.slice(xrefAt, xrefAt + 4)).toBe('xref');
      expect(pdf).toContain(inv.invoiceNo);
      expect(pdf).toContain('CNY 128.50');

      // Another patient: the order does not exist for them.
      expect((await s.api('GET', `/api/orders/${orderId}/invoices`, { token: other })).status).toBe(404);
      expect((await raw(inv.fileUrl, other)).status).toBe(404);
      expect((await raw(`/api/orders/${orderId}/invoices/0000000000/file`, token)).status).toBe(404);

      // The HIS down: the list comes from the cache, flagged; the file cannot be fetched.
      s.sandbox.his.setFaults({ down: true });
      const cached = await s.api('GET', `/api/orders/${orderId}/invoices`, { token });
      expect(cached.status).toBe(200);
      expect(cached.body).toMatchObject({ hisUnavailable: true, invoices: [inv] });
      const noFile = await raw(inv.fileUrl, token);
      expect(noFile.status).toBe(503);
      expect(JSON.parse(noFile.body.toString()).error.code).toBe('his_unavailable');
      s.sandbox.his.setFaults({ down: false });
      expect(await db().select().from(invoices).where(eq(invoices.orderId, orderId))).toHaveLength(1);

      // The HIS booked the payment in its ledger (and the signed ledger endpoint refuses unsigned calls).
      const today = new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
      const { appId, secret } = s.sandbox.keys.hospitals.H001!.his;
      const target = `/his/v1/ledger?date=${today}`;
      const ledger = await fetch(`${s.sandbox.his.url}${target}`, {
        headers: signedHeaders(appId, secret, 'GET', target, ''),
      }).then((r) => r.json());
      expect(ledger.records).toEqual(
        expect.arrayContaining([
          expect.objectContaining({
            kind: 'payment',
            source: 'platform',
            channel: 'wechatpay',
            orderNo: created.body.orderNo,
            hisBillNos: [hisBillNo],
            amountFen: 12850,
          }),
        ]),
      );
      expect(ledger.totals.payments.amountFen).toBeGreaterThanOrEqual(12850);
      expect((await fetch(`${s.sandbox.his.url}${target}`)).status).toBe(401);
    });
  });

  it('keeps card and ID numbers and names out of the interface log', async () => {
    const his = await waitFor(async () => {
      const rows = await db().select().from(outboundCalls).where(eq(outboundCalls.party, 'his'));
      const ops = new Set(rows.map((r) => r.operation));
      return ['lookup_patient', 'pending_bills', 'prescription', 'invoice'].every((o) => ops.has(o))
        ? rows
        : undefined;
    });
    const logged = JSON.stringify(his);
    for (const secret of [
      '2026000103',
      '2026000109',
      '9999999999',
      '110101199003070011',
      '110101201506180044',
      '张小明',
      '赵六',
      '赵七',
    ])
      expect(logged).not.toContain(secret);
    const lookup = await db()
      .select()
      .from(outboundCalls)
      .where(and(eq(outboundCalls.party, 'his'), eq(outboundCalls.operation, 'lookup_patient')));
    expect(lookup.map((r) => r.request)).toEqual(
      expect.arrayContaining([{ cardNo: '******0103', name: '张*明' }]),
    );
    expect(lookup.some((r) => r.errorCode === 'NAME_MISMATCH')).toBe(true);
  });
});
