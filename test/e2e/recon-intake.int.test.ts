import { readFileSync } from 'node:fs';
import path from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import { parseTerminalStatement } from '../../bff/src/channels/mispos/terminal-statement';
import { StatementError } from '../../bff/src/channels/statement';
import { parseFundFlowBill } from '../../bff/src/channels/wechatpay/fund-flow-bill';
import { adminAuditLogs, alerts, hospitals, orders, refunds } from '../../bff/src/db/schema';
import {
  hisLedgerLines,
  hisLedgers,
  reconFundFlowLines,
  reconItems,
  reconStatementLines,
  reconStatements,
} from '../../bff/src/db/schema-recon';
import { decodeGbk, encodeGbk } from '../../bff/src/lib/gbk';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { hisSetupFor } from '../../bff/src/modules/his/endpoint';
import { fetchStatements, runDailyRecon } from '../../bff/src/modules/recon/daily-job';
import { addDays } from '../../bff/src/modules/recon/dates';
import { bankArrivalFen } from '../../bff/src/modules/recon/fund-flow';
import { recordStatement } from '../../bff/src/modules/recon/intake';
import { DEMO_MISPOS_MERCHANTS } from '../../bff/src/sandbox';
import { startTestStack, waitFor, type TestStack } from '../support/platform';

const FIXTURES = path.join(__dirname, '../fixtures');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name));
const FUND_FLOW = 'recon/fundflow-BASIC-2026-03-14.csv';
const MISPOS_FILE = 'recon/mispos-898330160120001-20260314.txt';
const TRADE_BILL = 'wechatpay/tradebill-ALL-2026-03-14.csv';

/** The code a parser refused a file with (it must refuse it). */
function refusal(parse: () => unknown): { code: string; message: string } {
  try {
    parse();
  } catch (e) {
    if (e instanceof StatementError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('the file was accepted');
}

/** Text edits on a UTF-8 (BOM) bill. */
const editUtf8 = (buf: Buffer, f: (text: string) => string) => Buffer.from(f(buf.toString('utf8')), 'utf8');
const editGbk = (buf: Buffer, f: (text: string) => string) => encodeGbk(f(decodeGbk(buf)));

describe('statement parsers on real-format files', () => {
  it('fund-flow bill: parsed and checked against its own summary; bad copies refused with the reason', () => {
    const raw = fixture(FUND_FLOW);
    const { lines, totals } = parseFundFlowBill(raw);
    expect(totals).toEqual({ count: 10, inCount: 5, inFen: 47467, outCount: 5, outFen: 47467 });
    expect(lines).toHaveLength(10);
    expect(lines[0]).toMatchObject({
      businessType: '交易',
      direction: 'IN',
      amountFen: 12850,
      balanceFen: 12850,
      voucherNo: '4200000001202603140001',
      occurredAt: new Date('2026-03-14T08:15:02+08:00'),
    });
    expect(lines.at(-1)).toMatchObject({
      businessName: '自动提现',
      businessType: '提现',
      direction: 'OUT',
      amountFen: 41583,
      balanceFen: 0,
    });

    // The count off by one.
    expect(refusal(() => parseFundFlowBill(editUtf8(raw, (t) => t.replace('`10,`5,', '`11,`5,'))))).toEqual({
      code: 'STATEMENT_INCONSISTENT',
      message: expect.stringContaining('资金流水总笔数 11 ≠ 10'),
    });
    // A sum off by a fen.
    const sumOff = refusal(() =>
      parseFundFlowBill(editUtf8(raw, (t) => t.replace('`10,`5,`474.67,', '`10,`5,`474.68,'))),
    );
    expect(sumOff).toEqual({ code: 'STATEMENT_INCONSISTENT', message: expect.stringContaining('收入金额') });
    // Truncated in the middle of the last line: the summary is gone.
    expect(refusal(() => parseFundFlowBill(raw.subarray(0, raw.length - 40))).code).toBe('STATEMENT_FORMAT');
    expect(refusal(() => parseFundFlowBill(raw.subarray(0, raw.length - 40))).message).toMatch(/truncated/);
    // A line lost with the summary left alone: the balance no longer follows.
    const lost = editUtf8(raw, (t) => t.replace(/\r\n`2026-03-14 10:02:45[^\r]*\r\n/, '\r\n'));
    expect(refusal(() => parseFundFlowBill(lost))).toEqual({
      code: 'STATEMENT_INCONSISTENT',
      message: expect.stringContaining('does not follow'),
    });
    // An amount altered (and its balance with it), the summary left alone.
    const altered = editUtf8(raw, (t) => t.replace('`0.77,`127.73,', '`0.78,`127.72,'));
    expect(refusal(() => parseFundFlowBill(altered)).code).toBe('STATEMENT_INCONSISTENT');
    // Not a fund-flow bill at all (a trade bill).
    expect(refusal(() => parseFundFlowBill(fixture(TRADE_BILL))).code).toBe('STATEMENT_FORMAT');
  });

  it('MISPOS terminal statement: header and trailer checked; merchant, day and card masking enforced', () => {
    const raw = fixture(MISPOS_FILE);
    const opts = { merchantNo: '898330160120001', billDate: '2026-03-14' };
    const { lines, totals } = parseTerminalStatement(raw, opts);
    expect(totals).toEqual({
      paymentCount: 3,
      paymentFen: 212851,
      refundCount: 1,
      refundFen: 5000,
      feeFen: 1039,
    });
    expect(lines.map((l) => [l.kind, l.orderNo, l.channelTradeNo, l.amountFen, l.feeFen])).toEqual([
      ['PAYMENT', '031400000101', 'T0000001', 12850, 64],
      ['PAYMENT', '031400000102', 'T0000002', 200000, 1000],
      ['REFUND', '031400000103', 'T0000001', 5000, 25],
      ['PAYMENT', '031400000104', 'T0000003', 1, 0],
    ]);
    const bad = (f: (t: string) => string) => refusal(() => parseTerminalStatement(editGbk(raw, f), opts));
    expect(bad((t) => t.replace('T,3,2128.51,', 'T,3,2128.52,'))).toEqual({
      code: 'STATEMENT_INCONSISTENT',
      message: expect.stringContaining('trailer 消费金额'),
    });
    expect(bad((t) => t.replace(',20260314,4,', ',20260314,5,'))).toEqual({
      code: 'STATEMENT_INCONSISTENT',
      message: expect.stringContaining('header 明细笔数 5 ≠ 4'),
    });
    expect(bad((t) => t.replace(/\r\nT,[^\r]*\r\n$/, '\r\n')).code).toBe('STATEMENT_FORMAT');
    expect(bad((t) => t.replace('622848******0017', '6228481234560017'))).toEqual({
      code: 'STATEMENT_FORMAT',
      message: expect.stringContaining('not masked'),
    });
    expect(refusal(() => parseTerminalStatement(raw, { ...opts, merchantNo: '898330160120002' })).code).toBe(
      'STATEMENT_INCONSISTENT',
    );
    expect(refusal(() => parseTerminalStatement(raw, { ...opts, billDate: '2026-03-15' })).message).toMatch(
      /of 20260314, not of 2026-03-15/,
    );
  });
});

describe('reconciliation intake', () => {
  let s: TestStack;
  let financeToken: string;
  const scheduled: { date?: string; after: number }[] = [];
  const schedule = async (data: { date?: string }, after: number) => {
    scheduled.push({ date: data.date, after });
  };
  beforeAll(async () => {
    s = await startTestStack();
    await createAdminUser(s.platform.deps.db, {
      username: 'u_finance',
      displayName: '财务',
      password: 'Passw0rd-test',
      roleCode: 'finance',
    });
    const login = await s.api('POST', '/admin/api/auth/login', {
      body: { username: 'u_finance', password: 'Passw0rd-test' },
    });
    expect(login.status).toBe(200);
    financeToken = login.body.accessToken;
  });
  afterAll(async () => {
    await s?.stop();
  });

  const deps = () => s.platform.deps;
  const db = () => s.platform.deps.db;
  /** Today in Beijing, the business day the simulators date everything by. */
  const today = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);
  const orderRow = async (no: string) => (await db().select().from(orders).where(eq(orders.orderNo, no)))[0]!;
  const setSettings = (hospitalId: string, settings: Record<string, unknown>) =>
    db()
      .update(hospitals)
      .set({ settings: sql`${hospitals.settings} || ${JSON.stringify(settings)}::jsonb` })
      .where(eq(hospitals.id, hospitalId));
  const statement = async (accountId: string, date: string, billType: string) =>
    (
      await db()
        .select()
        .from(reconStatements)
        .where(
          and(
            eq(reconStatements.merchantAccountId, accountId),
            eq(reconStatements.billDate, date),
            eq(reconStatements.billType, billType),
          ),
        )
    )[0];
  const items = (hospitalId: string, date: string) =>
    db()
      .select()
      .from(reconItems)
      .where(and(eq(reconItems.hospitalId, hospitalId), eq(reconItems.businessDate, date)));
  /** 0.60 % per line, half up to the fen (the WeChat simulator's rule). */
  const fee = (fen: number) => Math.floor((fen * 60 + 5000) / 10_000);

  /** An order of H001 paid through the WeChat simulator's "scan and pay". */
  async function payOrder(amountFen: number): Promise<string> {
    const token = await s.login('P0001', 'H001');
    const { billId } = await s.pushBill({ hospital: 'H001', patientId: 'P0001', amountFen });
    const r = await s.api('POST', '/api/orders', {
      token,
      body: { billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(r.status).toBe(201);
    s.sandbox.wechat.pay(r.body.orderNo);
    return r.body.orderNo as string;
  }
  let seq = 0;
  async function refundThroughHis(orderNo: string, amountFen: number) {
    const r = await s.his('POST', '/open/v1/refunds', {
      orderNo,
      hisRefundNo: `HRI${Date.now()}${++seq}`,
      amountFen,
      reason: '退费',
    });
    expect(r.status).toBe(200);
  }
  const hisLedgerHas = (pred: (r: { orderNo: string | null; refundNo: string | null }) => boolean) =>
    waitFor(
      async () => s.sandbox.his.ledgerOf('H001', today()).records.some(pred),
      20_000,
      'the HIS booked it',
    );

  it('end to end: the daily job downloads the trade and fund-flow bills, pulls the HIS ledger and all matches', async () => {
    await setSettings('hosp_h001', { hisLedgerMode: 'pull' });
    const a = await payOrder(12850);
    const b = await payOrder(2500);
    const c = await payOrder(83);
    for (const no of [a, b, c])
      await waitFor(async () => (await orderRow(no)).status === 'SETTLED', 20_000, `${no} SETTLED`);
    await refundThroughHis(a, 5600);
    // A cash refund at the window, recorded by the cashier: the HIS books it as a platform cash refund.
    const cash = await s.api('POST', `/admin/api/orders/${(await orderRow(b)).id}/cash-refunds`, {
      token: financeToken,
      body: { amountFen: 1000, reason: '窗口退现金', receiptNo: 'SJ-0001' },
    });
    expect(cash.status).toBe(201);
    await hisLedgerHas((r) => r.orderNo === a && r.refundNo !== null);
    await hisLedgerHas((r) => r.orderNo === b && r.refundNo !== null);

    const date = today();
    const res = await runDailyRecon(deps(), { date }, schedule);
    const run = res.runs.find((r) => r.hospitalId === 'hosp_h001')!;
    expect(run.channelsCompared).toContain('wechatpay');
    expect(run.hisLedger).toBe(true);
    expect(await items('hosp_h001', date)).toEqual([]);
    const wx = run.rows.filter((r) => r.channel === 'wechatpay');
    expect(wx.map((r) => [r.kind, r.channelCount, r.platformCount, r.hisCount, r.differences])).toEqual([
      ['PAYMENT', 3, 3, 3, 0],
      ['REFUND', 1, 1, 1, 0],
    ]);
    expect(run.rows.find((r) => r.channel === 'cash')).toMatchObject({
      kind: 'REFUND',
      platformFen: 1000,
      hisFen: 1000,
      matched: 1,
      differences: 0,
    });
    // Alipay publishes today's bill tomorrow and the bank aggregator at night: asked again later.
    expect(res.pending).toEqual(expect.arrayContaining(['ma_h001_alipay']));
    // …by a retry in 30 minutes, or after 20:00 Beijing with an alert instead.
    const missing = await db().select().from(alerts).where(eq(alerts.kind, 'statement_missing'));
    if (new Date(Date.now() + 8 * 3600_000).getUTCHours() < 20) expect(scheduled).toHaveLength(1);
    else expect(missing).toHaveLength(1);

    // The statements as downloaded, and the ledger as pulled (mapped to our terms).
    expect(await statement('ma_h001_wechatpay', date, 'TRADE')).toMatchObject({
      status: 'IMPORTED',
      source: 'DOWNLOAD',
      lineCount: 4,
    });
    const ff = await statement('ma_h001_wechatpay', date, 'FUNDFLOW');
    expect(ff).toMatchObject({
      status: 'IMPORTED',
      channel: 'wechatpay',
      lineCount: 3 + 2 + 2 + 1, // payments, fees (83 has none), refund + fee back, settlement
      paymentCount: 4,
      refundCount: 4,
      feeFen: fee(12850) + fee(2500) + fee(83) - fee(5600),
    });
    const [ledger] = await db()
      .select()
      .from(hisLedgers)
      .where(and(eq(hisLedgers.hospitalId, 'hosp_h001'), eq(hisLedgers.ledgerDate, date)));
    expect(ledger).toMatchObject({ source: 'PULL', lineCount: 5 });
    const lines = await db().select().from(hisLedgerLines).where(eq(hisLedgerLines.ledgerId, ledger!.id));
    expect(lines.map((l) => [l.kind, l.channel, l.orderNo, l.refundNo !== null, l.amountFen]).sort()).toEqual(
      [
        ['PAYMENT', 'wechatpay', a, false, 12850],
        ['PAYMENT', 'wechatpay', b, false, 2500],
        ['PAYMENT', 'wechatpay', c, false, 83],
        ['REFUND', 'wechatpay', a, true, 5600],
        ['REFUND', 'CASH', b, true, 1000],
      ].sort(),
    );

    // The bank arrival: what WeChat settled to the bank that day, from the fund-flow lines.
    const arrival = 12850 + 2500 + 83 - 5600 - fee(12850) - fee(2500) - fee(83) + fee(5600);
    expect(await bankArrivalFen(db(), 'hosp_h001', date)).toBe(arrival);
    const flow = await db()
      .select()
      .from(reconFundFlowLines)
      .where(and(eq(reconFundFlowLines.hospitalId, 'hosp_h001'), eq(reconFundFlowLines.billDate, date)));
    expect(flow.filter((l) => l.businessType === '提现').map((l) => [l.direction, l.amountFen])).toEqual([
      ['OUT', arrival],
    ]);
    expect(
      flow
        .filter((l) => l.businessType === '交易')
        .map((l) => l.amountFen)
        .sort((x, y) => x - y),
    ).toEqual([83, 2500, 12850]);
  });

  it('MISPOS: the acquirer’s terminal statement against the HIS ledger finds exactly the injected differences', async () => {
    const date = '2026-03-16';
    const merchantNo = DEMO_MISPOS_MERCHANTS.H001!;
    await setSettings('hosp_h001', {
      mispos: {
        acquirer: '示范银行',
        merchantNo,
        statement: { url: s.sandbox.mispos.statementUrlTemplate },
      },
    });
    const at = (t: string) => new Date(`${date}T${t}+08:00`);
    const his = s.sandbox.his;
    const card = (amountFen: number, t: string, kind: 'payment' | 'refund' = 'payment') =>
      his.addOfflineRecord({ hospital: 'H001', kind, channel: 'mispos', amountFen, at: at(t) });
    const r1 = card(12850, '08:30:00');
    const r2 = card(2000, '09:00:00'); // the acquirer does not list it
    const r3 = card(45600, '10:00:00'); // the acquirer settled another amount
    const r4 = card(500, '15:00:00', 'refund');
    his.addOfflineRecord({
      hospital: 'H001',
      kind: 'payment',
      channel: 'cash',
      amountFen: 3000,
      at: at('11:00:00'),
    });
    s.sandbox.mispos.omit(r2.terminalRef!);
    s.sandbox.mispos.settleAmount(r3.terminalRef!, 45700);
    const extra = s.sandbox.mispos.addTerminalOnly({ merchantNo, amountFen: 4321, at: at('12:00:00') });

    // Not published yet, then a damaged file: asked again / refused with an alert, nothing imported.
    s.sandbox.mispos.injectFault('not_ready');
    expect(await fetchStatements(deps(), 'hosp_h001', date, 'test')).toContain(`mispos:${merchantNo}`);
    expect(await statement(`mispos:${merchantNo}`, date, 'TERMINAL')).toMatchObject({ status: 'PENDING' });
    s.sandbox.mispos.injectFault('corrupt');
    await fetchStatements(deps(), 'hosp_h001', date, 'test');
    expect(await statement(`mispos:${merchantNo}`, date, 'TERMINAL')).toMatchObject({
      status: 'FAILED',
      errorCode: 'STATEMENT_INCONSISTENT',
      lineCount: 0,
    });

    const res = await runDailyRecon(deps(), { date }, schedule);
    const run = res.runs.find((r) => r.hospitalId === 'hosp_h001')!;
    expect(await statement(`mispos:${merchantNo}`, date, 'TERMINAL')).toMatchObject({
      status: 'IMPORTED',
      channel: 'mispos',
      lineCount: 4,
    });
    const got = (await items('hosp_h001', date)).map((i) => [
      i.channel,
      i.kind,
      i.outcome,
      i.keyNo,
      i.channelFen,
      i.hisFen,
      i.status,
    ]);
    expect(got.sort()).toEqual(
      [
        ['mispos', 'PAYMENT', 'channel_only', extra.referenceNo, 4321, null, 'HOLDING'],
        ['mispos', 'PAYMENT', 'his_only', r2.terminalRef, null, 2000, 'HOLDING'],
        ['mispos', 'PAYMENT', 'amount_mismatch', r3.terminalRef, 45700, 45600, 'OPEN'],
      ].sort(),
    );
    expect(run.terminal.compared).toBe(true);
    expect(
      run.terminal.rows.map((r) => [r.kind, r.channelCount, r.hisCount, r.matched, r.differences]),
    ).toEqual([
      ['PAYMENT', 3, 3, 1, 3],
      ['REFUND', 1, 1, 1, 0],
    ]);
    expect(run.offline).toEqual([
      { channel: 'CASH', paymentCount: 1, paymentFen: 3000, refundCount: 0, refundFen: 0 },
      {
        channel: 'MISPOS',
        paymentCount: 3,
        paymentFen: 12850 + 2000 + 45600,
        refundCount: 1,
        refundFen: 500,
      },
    ]);
    expect(r1.terminalRef).toMatch(/^\d{12}$/);
    expect(r4.terminalRef).not.toBe(r1.terminalRef);
    const failed = await db()
      .select()
      .from(alerts)
      .where(and(eq(alerts.kind, 'statement_failed'), eq(alerts.hospitalId, 'hosp_h001')));
    expect(failed.map((a) => a.message).filter((m) => m.includes('POS'))).toEqual([
      expect.stringContaining('STATEMENT_INCONSISTENT'),
    ]);
  });

  it('manual upload: refused files change nothing; a good one replaces a failed statement, audited', async () => {
    const date = '2026-03-14';
    const upload = (file: Buffer, body: Record<string, unknown>) =>
      s.api('POST', '/admin/api/recon/statements/upload', {
        token: financeToken,
        body: { ...body, fileBase64: file.toString('base64') },
      });
    const trade = fixture(TRADE_BILL);
    const base = { accountId: 'ma_h002_wechatpay', billDate: date, fileName: 'tradebill.csv' };
    // The download failed (a tampered file).
    await recordStatement(deps(), {
      accountId: 'ma_h002_wechatpay',
      billDate: date,
      source: 'DOWNLOAD',
      importedBy: 'test',
      output: {
        result: 'FAIL',
        errorCode: 'STATEMENT_HASH_MISMATCH',
        errorMessage: 'the bill file does not match',
      },
    });
    const before = await statement('ma_h002_wechatpay', date, 'TRADE');
    expect(before).toMatchObject({ status: 'FAILED' });

    const refused = [
      [editUtf8(trade, (t) => t.replace(/\r\n`6,/, '\r\n`7,')), date, 'STATEMENT_INCONSISTENT'],
      [trade.subarray(0, trade.length - 60), date, 'STATEMENT_FORMAT'],
      [trade, '2026-03-15', 'STATEMENT_WRONG_DATE'],
      [fixture(MISPOS_FILE), date, 'STATEMENT_FORMAT'],
    ] as const;
    for (const [file, billDate, code] of refused) {
      const r = await upload(file, { ...base, billDate });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('statement_rejected');
      expect(r.body.error.message).toMatch(new RegExp(`^${code}: `));
    }
    // Another merchant's file (the provider's bill uploaded for H001, a direct merchant).
    const foreign = await upload(trade, { ...base, accountId: 'ma_h001_wechatpay' });
    expect(foreign.status).toBe(422);
    expect(foreign.body.error.message).toMatch(/^STATEMENT_INCONSISTENT: a line of merchant 1900009999/);
    expect(await statement('ma_h001_wechatpay', date, 'TRADE')).toBeUndefined();
    expect(await statement('ma_h002_wechatpay', date, 'TRADE')).toEqual(before);
    const audited = () => db().select().from(adminAuditLogs).where(eq(adminAuditLogs.action, 'recon.upload'));
    expect(await audited()).toEqual([]);

    // The good file: the provider's bill, only this sub-merchant's line kept.
    const ok = await upload(trade, base);
    expect(ok.status).toBe(201);
    expect(ok.body).toMatchObject({
      billType: 'TRADE',
      status: 'IMPORTED',
      previousStatus: 'FAILED',
      lineCount: 1,
      totals: { paymentCount: 1, paymentFen: 32000 },
    });
    expect(await statement('ma_h002_wechatpay', date, 'TRADE')).toMatchObject({
      id: before!.id,
      status: 'IMPORTED',
      source: 'UPLOAD',
      fileName: 'tradebill.csv',
      importedBy: expect.stringMatching(/^admin:adm_/),
      errorCode: null,
    });
    const lines = await db()
      .select()
      .from(reconStatementLines)
      .where(eq(reconStatementLines.statementId, before!.id));
    expect(lines.map((l) => [l.orderNo, l.amountFen])).toEqual([['ORD20260314000002', 32000]]);
    const [row] = await audited();
    expect(row).toMatchObject({
      username: 'u_finance',
      targetType: 'recon_statement',
      targetId: before!.id,
      before: { status: 'FAILED' },
      after: expect.objectContaining({ billType: 'TRADE', lines: 1 }),
    });

    // Imported stays imported unless replace is asked for.
    const again = await upload(trade, base);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('conflict');
    const replaced = await upload(trade, { ...base, replace: true });
    expect(replaced.status).toBe(201);
    expect(replaced.body.previousStatus).toBe('IMPORTED');

    // The fund-flow bill and the MISPOS terminal statement by hand, through the same parsers.
    const ff = await upload(fixture(FUND_FLOW), {
      accountId: 'ma_h001_wechatpay',
      billType: 'FUNDFLOW',
      billDate: date,
      fileName: 'fundflow.csv',
    });
    expect(ff.status).toBe(201);
    expect(ff.body).toMatchObject({ billType: 'FUNDFLOW', lineCount: 10 });
    expect(await bankArrivalFen(db(), 'hosp_h001', date)).toBe(41583);
    const pos = await upload(fixture(MISPOS_FILE), {
      channel: 'mispos',
      hospitalId: 'hosp_h001',
      billType: 'TERMINAL',
      billDate: date,
      fileName: 'mispos.txt',
    });
    expect(pos.status).toBe(201);
    expect(pos.body).toMatchObject({ billType: 'TERMINAL', lineCount: 4, totals: { feeFen: 1039 } });
    // Alipay has no fund-flow bill here.
    const none = await upload(fixture(FUND_FLOW), {
      accountId: 'ma_h001_alipay',
      billType: 'FUNDFLOW',
      billDate: date,
      fileName: 'x.csv',
    });
    expect(none.status).toBe(400);
  });

  it('HIS ledger pull: the HIS’s records mapped to ours; a pushed ledger is never replaced by a pull', async () => {
    const date = '2026-03-17';
    const his = s.sandbox.his;
    const at = (t: string) => new Date(`${date}T${t}+08:00`);
    his.addOfflineRecord({
      hospital: 'H002',
      kind: 'payment',
      channel: 'cash',
      amountFen: 1500,
      receiptNo: 'C-1',
      at: at('08:00:00'),
    });
    const pos = his.addOfflineRecord({
      hospital: 'H002',
      kind: 'payment',
      channel: 'mispos',
      amountFen: 8800,
      receiptNo: 'M-1',
      at: at('09:00:00'),
    });
    his.addOfflineRecord({
      hospital: 'H002',
      kind: 'payment',
      channel: 'kiosk',
      amountFen: 2600,
      receiptNo: 'K-1',
      at: at('10:00:00'),
    });
    his.addOfflineRecord({
      hospital: 'H002',
      kind: 'refund',
      channel: 'prepaid',
      amountFen: 700,
      receiptNo: 'P-1',
      at: at('11:00:00'),
    });
    his.addOfflineRecord({
      hospital: 'H002',
      kind: 'payment',
      channel: 'cheque',
      amountFen: 100,
      receiptNo: 'O-1',
      at: at('12:00:00'),
    });

    const endpoint = (await hisSetupFor(deps(), 'hosp_h002'))!.endpoint!;
    const lines = await deps().his.ledger(endpoint, date);
    expect(lines).toEqual([
      {
        kind: 'PAYMENT',
        channel: 'CASH',
        hisTradeNo: 'C-1',
        amountFen: 1500,
        occurredAt: '2026-03-17T08:00:00+08:00',
      },
      {
        kind: 'PAYMENT',
        channel: 'MISPOS',
        hisTradeNo: 'M-1',
        terminalRef: pos.terminalRef,
        amountFen: 8800,
        occurredAt: '2026-03-17T09:00:00+08:00',
      },
      {
        kind: 'PAYMENT',
        channel: 'KIOSK',
        hisTradeNo: 'K-1',
        amountFen: 2600,
        occurredAt: '2026-03-17T10:00:00+08:00',
      },
      {
        kind: 'REFUND',
        channel: 'PREPAID',
        hisTradeNo: 'P-1',
        amountFen: 700,
        occurredAt: '2026-03-17T11:00:00+08:00',
      },
      {
        kind: 'PAYMENT',
        channel: 'OTHER',
        hisTradeNo: 'O-1',
        amountFen: 100,
        occurredAt: '2026-03-17T12:00:00+08:00',
      },
    ]);

    // Push mode (the default): nothing is pulled.
    await fetchStatements(deps(), 'hosp_h002', date, 'test');
    const ledgerOf = async (d: string) =>
      (
        await db()
          .select()
          .from(hisLedgers)
          .where(and(eq(hisLedgers.hospitalId, 'hosp_h002'), eq(hisLedgers.ledgerDate, d)))
      )[0];
    expect(await ledgerOf(date)).toBeUndefined();
    // Pull mode: pulled and recorded as PULL; a later try pulls it again (the HIS may have booked more).
    await setSettings('hosp_h002', { hisLedgerMode: 'pull' });
    await fetchStatements(deps(), 'hosp_h002', date, 'test');
    expect(await ledgerOf(date)).toMatchObject({ source: 'PULL', version: 1, lineCount: 5 });
    await fetchStatements(deps(), 'hosp_h002', date, 'test');
    expect(await ledgerOf(date)).toMatchObject({ source: 'PULL', version: 2 });
    // The HIS not answering: asked again at the next try.
    his.setFaults({ down: true });
    expect(await fetchStatements(deps(), 'hosp_h002', '2026-03-18', 'test')).toContain('his-ledger');
    his.setFaults({ down: false });
    // A ledger the HIS pushed itself wins over pulling.
    const pushed = await s.his(
      'PUT',
      `/open/v1/ledgers/${date}`,
      {
        lines: [
          {
            kind: 'PAYMENT',
            channel: 'CASH',
            hisTradeNo: 'C-1',
            amountFen: 1500,
            occurredAt: '2026-03-17T08:00:00+08:00',
          },
        ],
      },
      'H002',
    );
    expect(pushed.status).toBe(200);
    await fetchStatements(deps(), 'hosp_h002', date, 'test');
    expect(await ledgerOf(date)).toMatchObject({ source: 'PUSH', version: 3, lineCount: 1 });
  });

  it('auto-refund (reconAutoRefund): off by default; on, a payment the HIS never got is refunded after the hold', async () => {
    const date = today();
    const tomorrow = addDays(date, 1);
    // The HIS is down while the patient pays: the result push gives up, the order is one-sided.
    s.sandbox.his.setFaults({ down: true });
    const x = await payOrder(7700);
    await waitFor(async () => (await orderRow(x)).oneSided, 30_000, 'the push gave up');
    s.sandbox.his.setFaults({ down: false });
    expect(await orderRow(x)).toMatchObject({ status: 'PAID', hisSyncStatus: 'FAILED' });
    // Today's statement is fetched again now that it holds the payment (as a re-run after a correction).
    const wx = (await deps().channels.get('ma_h001_wechatpay')).adapter;
    await recordStatement(deps(), {
      accountId: 'ma_h001_wechatpay',
      billDate: date,
      source: 'DOWNLOAD',
      importedBy: 'test',
      output: await wx.downloadStatement(date),
    });

    await runDailyRecon(deps(), { date }, schedule);
    const item = async () =>
      (await items('hosp_h001', date)).find((i) => i.keyNo === x && i.outcome === 'his_missing');
    expect(await item()).toMatchObject({ status: 'HOLDING', channelFen: 7700, platformFen: 7700 });
    // The next day the hold is over: a person's job — the policy is off.
    await runDailyRecon(deps(), { date: tomorrow }, schedule);
    expect(await item()).toMatchObject({ status: 'OPEN', resolution: null });
    const refundsOf = async () =>
      db()
        .select()
        .from(refunds)
        .where(eq(refunds.orderId, (await orderRow(x)).id));
    expect(await refundsOf()).toEqual([]);

    // On: the next run refunds it through the channel and closes the difference, as the system.
    await setSettings('hosp_h001', { reconAutoRefund: true });
    await runDailyRecon(deps(), { date: tomorrow }, schedule);
    const [refund] = await refundsOf();
    expect(refund).toMatchObject({ amountFen: 7700, requestedBy: 'system' });
    expect(refund!.reason).toContain('HIS 未收到该笔支付');
    expect(await item()).toMatchObject({
      status: 'RESOLVED',
      resolution: 'auto_refunded',
      resolvedBy: 'system',
      note: expect.stringContaining(refund!.refundNo),
    });
    await waitFor(async () => (await refundsOf())[0]?.status === 'SUCCESS', 20_000, 'the channel refunded');
    expect(s.sandbox.wechat.refunds.get(refund!.refundNo)).toMatchObject({ refund: 7700, status: 'SUCCESS' });
    const [audit] = await db()
      .select()
      .from(adminAuditLogs)
      .where(eq(adminAuditLogs.action, 'recon.auto_refund'));
    expect(audit).toMatchObject({
      userId: 'system',
      username: 'system',
      targetType: 'recon_item',
      after: expect.objectContaining({ resolution: 'auto_refunded', refundNo: refund!.refundNo }),
    });
    // Done once: another run refunds nothing more.
    await runDailyRecon(deps(), { date: tomorrow }, schedule);
    expect(await refundsOf()).toHaveLength(1);
  });
});
