import { fenToYuan } from '@hp/shared';
import { eq, sql } from 'drizzle-orm';
import ExcelJS from 'exceljs';
import { patients } from '../../bff/src/db/schema';
import { createAdminUser } from '../../bff/src/modules/admin/auth-service';
import { beijingDayRange } from '../../bff/src/modules/recon/dates';
import { runReconciliation } from '../../bff/src/modules/recon/engine';
import { iterateDifferences } from '../../bff/src/modules/recon/reports';
import { generateReconDay } from '../support/recon-day';
import { startTestStack, type TestStack } from '../support/platform';

/**
 * Reconciliation reports and their Excel/CSV files over the admin API, on generated days: the files'
 * totals rows are checked against sums computed straight from the database tables (payments, refunds,
 * statement lines, HIS ledger lines), not against the reports' own figures.
 */
const PASSWORD = 'Passw0rd-reports';
const H = 'hosp_h001';
const D1 = '2026-10-01';
const D2 = '2026-10-02';

describe('reconciliation reports and exports', () => {
  let s: TestStack;
  const tokens: Record<string, string> = {};
  const db = () => s.platform.deps.db;

  beforeAll(async () => {
    s = await startTestStack({}, { workers: false });
    for (const [username, roleCode] of [
      ['fin', 'finance'],
      ['aud', 'auditor'],
      ['cash', 'cashier'],
    ] as const) {
      await createAdminUser(db(), { username, displayName: username, password: PASSWORD, roleCode });
      const r = await s.api('POST', '/admin/api/auth/login', { body: { username, password: PASSWORD } });
      expect(r.status).toBe(200);
      tokens[username] = r.body.accessToken;
    }
    const [{ id: patientId }] = (await db()
      .select({ id: patients.id })
      .from(patients)
      .where(eq(patients.hisPatientId, 'P0001'))) as [{ id: string }];
    for (const date of [D1, D2])
      await generateReconDay(db(), {
        hospitalId: H,
        accountId: 'ma_h001_wechatpay',
        patientId,
        date,
        n: 200,
        k: 2,
      });
    // Abnormal refunds: one the channel could not pay back on day 1, one refused on day 2.
    await db().execute(sql`
      INSERT INTO refunds (id, refund_no, hospital_id, order_id, payment_id, amount_fen, status, reason, requested_by,
                           method, error_code, error_message, created_at, updated_at)
      VALUES ('ref_ABN1', 'RABN1', ${H}, 'ord_G2026100100000031', 'pay_G2026100100000031', 1234, 'ABNORMAL',
              '患者申请退费', 'his:app', 'CHANNEL', 'ABNORMAL', '用户银行卡已注销', '2026-10-01T10:00:00+08:00', now()),
             ('ref_ABN2', 'RABN2', ${H}, 'ord_G2026100200000033', 'pay_G2026100200000033', 777, 'FAILED',
              '=cmd|x', 'his:app', 'CHANNEL', 'NOTENOUGH', '余额不足', '2026-10-02T11:00:00+08:00', now())`);
    // Day 2's fund-flow bill: a withdrawal to the bank (counted), a payment and a fee (not bank arrival).
    await db().execute(sql`
      INSERT INTO recon_statements (id, hospital_id, merchant_account_id, channel, bill_date, bill_type, status, source)
      VALUES ('stm_ff_d2', ${H}, 'ma_h001_wechatpay', 'wechatpay', ${D2}, 'FUNDFLOW', 'IMPORTED', 'UPLOAD')`);
    await db().execute(sql`
      INSERT INTO recon_fund_flow_lines (statement_id, hospital_id, bill_date, channel, flow_no, business_name,
                                         business_type, direction, amount_fen, occurred_at)
      VALUES ('stm_ff_d2', ${H}, ${D2}, 'wechatpay', 'F1', '提现', '提现', 'OUT', 123456, '2026-10-02T09:00:00+08:00'),
             ('stm_ff_d2', ${H}, ${D2}, 'wechatpay', 'F2', '交易', '交易', 'IN', 5000, '2026-10-02T09:01:00+08:00'),
             ('stm_ff_d2', ${H}, ${D2}, 'wechatpay', 'F3', '扣除交易手续费', '扣除交易手续费', 'OUT', 30,
              '2026-10-02T09:01:00+08:00')`);
    for (const date of [D1, D2])
      await runReconciliation(s.platform.deps, { hospitalId: H, date, triggeredBy: 'test' });
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  });

  /** The figures of a range computed from the source tables, the way the engine defines each side. */
  async function sourceFigures(from: string, to: string) {
    const start = beijingDayRange(from).start;
    const end = beijingDayRange(to).end;
    const one = async (q: ReturnType<typeof sql>) =>
      Number(((await db().execute(q)) as unknown as { rows: { v: string | number }[] }).rows[0]!.v);
    const paid = await one(sql`SELECT coalesce(sum(amount_fen), 0) AS v FROM payments
      WHERE hospital_id = ${H} AND status IN ('SUCCESS', 'CONFLICTED') AND paid_at >= ${start} AND paid_at < ${end}`);
    const paidCount = await one(sql`SELECT count(*) AS v FROM payments
      WHERE hospital_id = ${H} AND status IN ('SUCCESS', 'CONFLICTED') AND paid_at >= ${start} AND paid_at < ${end}`);
    const refunded = await one(sql`SELECT coalesce(sum(amount_fen), 0) AS v FROM refunds
      WHERE hospital_id = ${H} AND status = 'SUCCESS' AND succeeded_at >= ${start} AND succeeded_at < ${end}`);
    const stmt = (kind: string, col: string) =>
      one(sql`SELECT coalesce(sum(${sql.raw(col)}), 0) AS v FROM recon_statement_lines
        WHERE hospital_id = ${H} AND kind = ${kind} AND bill_date >= ${from} AND bill_date <= ${to}`);
    const his = (kind: string, online: boolean) =>
      one(sql`SELECT coalesce(sum(amount_fen), 0) AS v FROM his_ledger_lines
        WHERE hospital_id = ${H} AND kind = ${kind} AND ledger_date >= ${from} AND ledger_date <= ${to}
          AND (order_no IS NOT NULL) = ${online}`);
    const items = await one(sql`SELECT count(*) AS v FROM recon_items
      WHERE hospital_id = ${H} AND business_date >= ${from} AND business_date <= ${to}`);
    const channelIncome = (await stmt('PAYMENT', 'amount_fen')) - (await stmt('REFUND', 'amount_fen'));
    const fee = (await stmt('PAYMENT', 'fee_fen')) - (await stmt('REFUND', 'fee_fen'));
    const hisOnline = (await his('PAYMENT', true)) - (await his('REFUND', true));
    const hisOffline = (await his('PAYMENT', false)) - (await his('REFUND', false));
    return {
      paidCount,
      platformIncome: paid - refunded,
      refunded,
      channelIncome,
      fee,
      hisOnline,
      hisOffline,
      items,
    };
  }

  async function download(path: string, token = tokens.fin!) {
    const res = await fetch(`${s.platform.url}/admin/api${path}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
  }

  async function workbook(buf: Buffer) {
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load(buf as unknown as ArrayBuffer);
    return wb;
  }

  /** The totals row of a sheet (the last row, its first cell starting 合计) as header → value. */
  function totalsOf(ws: ExcelJS.Worksheet): Record<string, unknown> {
    const headers = (ws.getRow(1).values as unknown[]).slice(1) as string[];
    const last = ws.getRow(ws.rowCount);
    expect(String(last.getCell(1).value)).toMatch(/^合计/);
    return Object.fromEntries(headers.map((h, i) => [h, last.getCell(i + 1).value]));
  }
  /** A yuan cell as fen (the cell holds the nearest double of a two-decimal yuan amount). */
  const fenOf = (v: unknown) => Math.round(Number(v) * 100);
  /** A CSV file's lines (its BOM dropped) and its last row, the totals, as header → value. */
  function csvOf(body: Buffer): { lines: string[]; total: Record<string, string> } {
    const lines = body.toString('utf8').slice(1).trimEnd().split('\r\n');
    const header = lines[0]!.split(',');
    const total = Object.fromEntries(
      lines
        .at(-1)!
        .split(',')
        .map((v, i) => [header[i], v]),
    );
    return { lines, total };
  }

  it('period Excel: the totals row equals the sums of the source tables; details on further sheets', async () => {
    const res = await download(`/recon/exports/period?from=${D1}&to=${D2}&format=xlsx`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    );
    const disposition = res.headers.get('content-disposition')!;
    expect(disposition).toContain(`filename="recon-period-H001-${D1}_${D2}.xlsx"`);
    expect(decodeURIComponent(/filename\*=UTF-8''(.+)$/.exec(disposition)![1]!)).toMatch(
      new RegExp(`^对账报表_.+_${D1}_${D2}\\.xlsx$`),
    );

    const wb = await workbook(res.body);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['每日汇总', '差异明细', '异常退款']);
    const src = await sourceFigures(D1, D2);
    const summary = wb.getWorksheet('每日汇总')!;
    expect(summary.rowCount).toBe(1 + 2 + 1); // header, one channel on each day, totals
    const t = totalsOf(summary);
    expect(fenOf(t['平台收入'])).toBe(src.platformIncome);
    expect(fenOf(t['渠道收入'])).toBe(src.channelIncome);
    expect(fenOf(t['HIS 收入（线上）'])).toBe(src.hisOnline);
    expect(fenOf(t['退款金额'])).toBe(src.refunded);
    expect(fenOf(t['手续费'])).toBe(src.fee);
    expect(fenOf(t['差额（HIS−平台）'])).toBe(src.hisOnline - src.platformIncome);
    expect(fenOf(t['预计到账'])).toBe(src.channelIncome - src.fee);
    expect(t['支付笔数']).toBe(src.paidCount);
    expect(t['差异笔数']).toBe(src.items);
    expect(summary.getRow(2).getCell(5).numFmt).toBe('#,##0.00');
    expect(summary.getRow(2).getCell(2).value).toBe('微信支付');

    const diffs = wb.getWorksheet('差异明细')!;
    expect(diffs.rowCount).toBe(1 + src.items + 1);
    expect(totalsOf(diffs)['渠道']).toBeNull();
    expect(String(diffs.getRow(diffs.rowCount).getCell(1).value)).toBe(`合计（${src.items} 笔）`);
    const platformFen = Number(
      (
        (await db().execute(sql`SELECT coalesce(sum(platform_fen), 0) AS v FROM recon_items
          WHERE hospital_id = ${H} AND business_date BETWEEN ${D1} AND ${D2}`)) as unknown as {
          rows: { v: string }[];
        }
      ).rows[0]!.v,
    );
    expect(fenOf(totalsOf(diffs)['平台金额'])).toBe(platformFen);

    const abnormal = wb.getWorksheet('异常退款')!;
    expect(abnormal.rowCount).toBe(1 + 2 + 1);
    expect(fenOf(totalsOf(abnormal)['退款金额'])).toBe(1234 + 777);
    expect(abnormal.getRow(2).getCell(2).value).toBe('RABN1');
    expect(abnormal.getRow(2).getCell(1).value).toBe('2026-10-01 10:00:00');
  });

  it('period CSV: UTF-8 with a BOM, the same totals in yuan', async () => {
    const res = await download(`/recon/exports/period?from=${D1}&to=${D2}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(res.headers.get('content-disposition')).toContain(`.csv"; filename*=UTF-8''`);
    expect([...res.body.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const { lines, total } = csvOf(res.body);
    const src = await sourceFigures(D1, D2);
    expect(lines).toHaveLength(4);
    expect(total['日期']).toBe('合计');
    expect(total['平台收入']).toBe(fenToYuan(src.platformIncome));
    expect(total['渠道收入']).toBe(fenToYuan(src.channelIncome));
    expect(total['HIS 收入（线上）']).toBe(fenToYuan(src.hisOnline));
    expect(total['手续费']).toBe(fenToYuan(src.fee));
    expect(lines[1]!.startsWith(`${D1},微信支付,`)).toBe(true);
  });

  it('daily report: abnormal refunds, bank arrival from the fund-flow bill or 未获取; its files agree', async () => {
    const d2 = await s.api('GET', `/admin/api/recon/reports/daily?date=${D2}`, { token: tokens.fin });
    expect(d2.status).toBe(200);
    const src = await sourceFigures(D2, D2);
    expect(d2.body.totals).toMatchObject({
      platformIncomeFen: src.platformIncome,
      channelIncomeFen: src.channelIncome,
      onlineHisIncomeFen: src.hisOnline,
      hisIncomeFen: src.hisOnline + src.hisOffline,
      dailyDifferenceFen: src.hisOnline - src.platformIncome,
      bankArrivalFen: src.channelIncome - src.fee,
      bankSettledFen: 123456,
      abnormalRefundFen: 777,
    });
    expect(d2.body.abnormalRefunds).toEqual({ count: 1, amountFen: 777 });
    const wechat = d2.body.channels.find((c: { channel: string }) => c.channel === 'wechatpay');
    expect(wechat).toMatchObject({ bankSettledFen: 123456, abnormalRefundCount: 1, abnormalRefundFen: 777 });
    const d1 = await s.api('GET', `/admin/api/recon/reports/daily?date=${D1}`, { token: tokens.fin });
    expect(d1.body.totals.bankSettledFen).toBeNull();
    expect(d1.body.abnormalRefunds).toEqual({ count: 1, amountFen: 1234 });

    const xlsx = await download(`/recon/exports/daily?date=${D2}`);
    expect(xlsx.status).toBe(200);
    const wb = await workbook(xlsx.body);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['对账日报', '差异明细', '异常退款']);
    const t = totalsOf(wb.getWorksheet('对账日报')!);
    expect(fenOf(t['HIS 收入'])).toBe(src.hisOnline + src.hisOffline);
    expect(fenOf(t['平台收入'])).toBe(src.platformIncome);
    expect(fenOf(t['当日差额（HIS−平台）'])).toBe(src.hisOnline - src.platformIncome);
    expect(fenOf(t['异常退款'])).toBe(777);
    expect(fenOf(t['银行到账'])).toBe(123456);
    // The defused text of a refund reason that looks like a formula stays text in Excel.
    expect(wb.getWorksheet('异常退款')!.getRow(2).getCell(8).value).toBe('=cmd|x');

    const csv = await download(`/recon/exports/daily?date=${D1}&format=csv`);
    const { lines, total } = csvOf(csv.body);
    expect(total['银行到账']).toBe('未获取');
    expect(total['异常退款']).toBe('12.34');
    expect(lines.some((l) => l.startsWith('现金（窗口）（HIS 线下）,5,0,150.00'))).toBe(true);
  });

  it('period summary JSON: per day from the latest run, days without a run listed, same figures as the daily report', async () => {
    const r = await s.api('GET', `/admin/api/recon/reports/period?from=2026-09-30&to=${D2}`, {
      token: tokens.aud,
    });
    expect(r.status).toBe(200);
    expect(r.body.missingDays).toEqual(['2026-09-30']);
    expect(r.body.days.map((d: { date: string }) => d.date)).toEqual(['2026-09-30', D1, D2]);
    const daily = await s.api('GET', `/admin/api/recon/reports/daily?date=${D1}`, { token: tokens.aud });
    const day1 = r.body.days[1];
    expect(day1.platformIncomeFen).toBe(daily.body.totals.platformIncomeFen);
    expect(day1.hisIncomeFen).toBe(daily.body.totals.onlineHisIncomeFen);
    expect(day1.differenceFen).toBe(daily.body.totals.dailyDifferenceFen);
    expect(day1.bankArrivalFen).toBe(daily.body.totals.bankArrivalFen);
    const src = await sourceFigures(D1, D2);
    expect(r.body.totals.platformIncomeFen).toBe(src.platformIncome);
    expect(r.body.totals.openDifferences).toBeGreaterThan(0);

    const abnormal = await s.api('GET', `/admin/api/recon/reports/abnormal-refunds?from=${D1}&to=${D2}`, {
      token: tokens.aud,
    });
    expect(abnormal.body).toMatchObject({ total: 2, totalFen: 2011 });
    expect(abnormal.body.items.map((x: { refundNo: string }) => x.refundNo)).toEqual(['RABN1', 'RABN2']);
  });

  it('differences export follows the list filters; the export reads in keyset pages', async () => {
    const csv = await download(
      `/recon/exports/differences?from=${D1}&to=${D2}&outcome=his_missing&format=csv`,
    );
    expect(csv.status).toBe(200);
    const { lines } = csvOf(csv.body);
    expect(lines).toHaveLength(1 + 4 + 1); // k = 2 on each day
    expect(lines.slice(1, -1).every((l) => l.includes(',HIS 未入账,'))).toBe(true);
    expect(lines.at(-1)).toMatch(/^合计（4 笔）,/);

    const all: number[] = [];
    for await (const page of iterateDifferences(db(), { from: D1, to: D2, hospitalId: H }, 5)) {
      expect(page.length).toBeLessThanOrEqual(5);
      all.push(...page.map((r) => r.id));
    }
    const ids = (
      (await db().execute(sql`SELECT id FROM recon_items WHERE hospital_id = ${H}
        AND business_date BETWEEN ${D1} AND ${D2} ORDER BY business_date, id`)) as unknown as {
        rows: { id: string | number }[];
      }
    ).rows.map((r) => Number(r.id));
    expect(all).toEqual(ids);
  });

  it('refuses bad input with a clear code and message, and follows permissions', async () => {
    const bad = async (path: string) => {
      const r = await s.api('GET', `/admin/api${path}`, { token: tokens.fin });
      expect(r.status).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
      return r.body.error.message as string;
    };
    expect(await bad(`/recon/exports/period?from=${D2}&to=${D1}`)).toBe(`from: must not be after to (${D1})`);
    expect(await bad(`/recon/reports/period?from=${D2}&to=${D1}`)).toBe(`from: must not be after to (${D1})`);
    expect(await bad(`/recon/exports/period?from=2025-01-01&to=${D2}`)).toBe(
      'to: the range is at most 366 days',
    );
    expect(await bad(`/recon/exports/period?from=${D1}&to=${D2}&format=pdf`)).toMatch(/^format: /);
    expect(await bad(`/recon/exports/daily?date=2026-02-30`)).toBe('date: a date as YYYY-MM-DD');
    expect(await bad(`/recon/exports/differences?from=${D1}`)).toMatch(/^to: /);
    expect(await bad(`/recon/exports/differences?from=${D1}&to=${D2}&outcome=nope`)).toMatch(/^outcome: /);

    // The auditor reads reports but may not export; the cashier sees neither.
    expect((await download(`/recon/exports/period?from=${D1}&to=${D2}`, tokens.aud)).status).toBe(403);
    const denied = await s.api('GET', `/admin/api/recon/reports/period?from=${D1}&to=${D2}`, {
      token: tokens.cash,
    });
    expect(denied.status).toBe(403);
    expect(denied.body.error.code).toBe('forbidden');
    // A hospital the admin may not see is not found, before any byte of a file is sent.
    await createAdminUser(db(), {
      username: 'fin2',
      displayName: 'fin2',
      password: PASSWORD,
      roleCode: 'finance',
      hospitalId: 'hosp_h002',
    });
    const t2 = (
      await s.api('POST', '/admin/api/auth/login', { body: { username: 'fin2', password: PASSWORD } })
    ).body.accessToken as string;
    const other = await s.api('GET', `/admin/api/recon/exports/daily?date=${D1}&hospitalId=${H}`, {
      token: t2,
    });
    expect(other.status).toBe(404);
    expect(other.body.error.code).toBe('not_found');
  });
});
