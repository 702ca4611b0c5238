import type { InsuranceOrderView, InsuranceQuoteRequest, InsuranceStatus } from '@hp/shared';
import { and, asc, desc, eq, gt, sql } from 'drizzle-orm';
import {
  checkSplit,
  type FeeDetail,
  type InsuranceSettlement,
  type InsuranceSplit,
} from '../../channels/insurance-types';
import type { ResolvedInsurance } from '../../channels/registry';
import type { Tx } from '../../db/client';
import {
  bills,
  insuranceAuthorizations,
  insuranceSettlements,
  orderBills,
  orderEvents,
  patients,
  payments,
} from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { AppError, notFound } from '../../lib/errors';
import { newId, newOrderNo } from '../../lib/ids';
import { maskIdNo, maskName } from '../../lib/mask';
import { recheckBillsWithHis } from '../bills/pull';
import {
  findOrder,
  findPaymentByOrder,
  lockOrderById,
  recordEvent,
  releaseBills,
  transition,
  type OrderRow,
} from '../orders/repo';
import { ownOrder, queryDelaySeconds, takeBills, type PatientPrincipal } from '../orders/service';
import { completePaidOrder, raiseAlert } from '../payments/service';
import { enqueueSync, startCashRepair, startInsuranceRepair } from './cash';
import { findSettlement, lockSettlement, moveSettlement, openAuth, splitOf, type AuthSecrets } from './repo';

/**
 * Medical insurance at checkout (医保 + 自费 in one order):
 * 1. The patient authorises the hospital on the national platform's page (医保授权); we keep the payAuthNo.
 * 2. Quote: the patient's bills become an order (CREATED, bills held) whose fee details are uploaded (6201);
 *    the platform answers the split — fund, personal account, other, cash — which the patient sees first.
 * 3. Pay: the insurance part is settled (6202, or WeChat's mixed order), the cash part is collected through
 *    WeChat Pay, and the order is PAID when both are; the HIS receives the payment with the split.
 * Every partial outcome is repaired (cash.ts): insurance settled but cash never paid → the insurance part is
 * reversed; cash paid but insurance failed → the cash is refunded; unknown → queried until known (sync-job.ts).
 */

const ACTOR = 'system:insurance';

/** How long an authorisation is trusted when the platform gives no expiry. */
const DEFAULT_AUTH_MINUTES = 120;

/** The hospital's national-platform account, or a clear refusal. */
async function platformOf(deps: Deps, hospitalId: string): Promise<ResolvedInsurance> {
  const nhsa = await deps.channels.insuranceForHospital(hospitalId, 'nhsa');
  if (!nhsa?.platform)
    throw new AppError('bad_request', 'the hospital does not take medical insurance online');
  return nhsa;
}

async function liveAuthorization(deps: Deps, who: PatientPrincipal) {
  const [row] = await deps.db
    .select()
    .from(insuranceAuthorizations)
    .where(
      and(
        eq(insuranceAuthorizations.patientId, who.patientId),
        eq(insuranceAuthorizations.hospitalId, who.hospitalId),
        gt(insuranceAuthorizations.expiresAt, deps.clock.now()),
      ),
    )
    .orderBy(desc(insuranceAuthorizations.createdAt))
    .limit(1);
  return row;
}

export async function insuranceStatus(deps: Deps, who: PatientPrincipal): Promise<InsuranceStatus> {
  const [nhsa, medins] = await Promise.all([
    deps.channels.insuranceForHospital(who.hospitalId, 'nhsa'),
    deps.channels.insuranceForHospital(who.hospitalId, 'wxmedins'),
  ]);
  const auth = nhsa ? await liveAuthorization(deps, who) : undefined;
  return {
    available: Boolean(nhsa),
    authorized: Boolean(auth),
    nameMasked: auth?.nameMasked ?? null,
    idNoMasked: auth?.idNoMasked ?? null,
    insutype: auth?.insutype ?? null,
    expiresAt: auth?.expiresAt.toISOString() ?? null,
    settleChannels: nhsa ? (medins ? ['nhsa', 'wxmedins'] : ['nhsa']) : [],
  };
}

/** The national platform's authorisation page for this patient; it returns to `returnUrl` with `authCode`. */
export async function startAuthorization(
  deps: Deps,
  who: PatientPrincipal,
  input: { returnUrl: string },
): Promise<{ pageUrl: string; state: string }> {
  const nhsa = await platformOf(deps, who.hospitalId);
  const state = newId('ias');
  return { pageUrl: nhsa.platform!.authorizationPageUrl({ state, returnUrl: input.returnUrl }), state };
}

/**
 * Exchanges the page's authCode for the payAuthNo and the insured person. The person must be the patient
 * (the same name as the HIS holds): insurance of one person never pays another's bills.
 */
export async function completeAuthorization(
  deps: Deps,
  who: PatientPrincipal,
  input: { authCode: string },
): Promise<InsuranceStatus> {
  const nhsa = await platformOf(deps, who.hospitalId);
  const out = await nhsa.platform!.authorize(input.authCode);
  if (out.result === 'UNKNOWN' || out.result === 'PENDING')
    throw new AppError('channel_unavailable', '医保平台暂未响应，请稍后重试');
  if (out.result !== 'SUCCESS' || !out.payAuthNo || !out.person)
    throw new AppError(
      'insurance_refused',
      `医保授权失败：${out.errorMessage ?? out.errorCode ?? '未知原因'}`,
    );
  const [patient] = await deps.db.select().from(patients).where(eq(patients.id, who.patientId));
  if (!patient || patient.name !== out.person.name)
    throw new AppError('name_mismatch', '医保授权人与就诊人不一致：请为就诊人本人授权，或选择自费支付');
  const now = deps.clock.now();
  const cap = new Date(now.getTime() + DEFAULT_AUTH_MINUTES * 60_000);
  const expiresAt = out.expiresAt && out.expiresAt < cap ? out.expiresAt : cap;
  const secrets: AuthSecrets = { payAuthNo: out.payAuthNo, person: out.person };
  await deps.db.insert(insuranceAuthorizations).values({
    id: newId('isa', now.getTime()),
    hospitalId: who.hospitalId,
    patientId: who.patientId,
    platformAccountId: nhsa.id,
    psnNo: out.person.psnNo,
    nameMasked: maskName(out.person.name),
    idNoMasked: maskIdNo(out.person.idNo),
    insutype: out.person.insutype,
    secretEnc: deps.secrets.seal(JSON.stringify(secrets)),
    expiresAt,
  });
  return insuranceStatus(deps, who);
}

async function requireAuthorization(deps: Deps, who: PatientPrincipal) {
  const auth = await liveAuthorization(deps, who);
  if (!auth)
    throw new AppError(
      'insurance_not_authorized',
      '尚未授权使用医保（或授权已过期）：请先完成医保授权，或选择自费支付',
    );
  return { auth, secrets: openAuth(deps, auth.secretEnc) };
}

/** The personal-account balance (医保个人账户余额), asked of the platform now. */
export async function insuranceBalance(deps: Deps, who: PatientPrincipal): Promise<{ balanceFen: number }> {
  const nhsa = await platformOf(deps, who.hospitalId);
  const { secrets } = await requireAuthorization(deps, who);
  const out = await nhsa.platform!.queryBalance(secrets.payAuthNo, secrets.person);
  if (out.result !== 'SUCCESS' || out.balanceFen === undefined)
    throw new AppError(
      out.result === 'FAIL' ? 'insurance_refused' : 'channel_unavailable',
      `医保余额查询失败：${out.errorMessage ?? out.errorCode ?? '平台未响应'}`,
    );
  return { balanceFen: out.balanceFen };
}

interface BillForFees {
  hisBillNo: string;
  title: string;
  amountFen: number;
  items: unknown[];
}

/** The fee details (费用明细) of an upload, from the bills' items (a bill without items is one line). */
export function feeDetails(orderNo: string, rows: BillForFees[]): FeeDetail[] {
  const out: FeeDetail[] = [];
  for (const b of rows) {
    const items = b.items as {
      name: string;
      quantity: number;
      amountFen: number;
      code?: string;
      category?: string;
    }[];
    const lines = items.length ? items : [{ name: b.title, quantity: 1, amountFen: b.amountFen }];
    for (const it of lines) {
      out.push({
        feedetlSn: `${orderNo}-${String(out.length + 1).padStart(3, '0')}`,
        hisBillNo: b.hisBillNo,
        itemCode: it.code ?? `HOSP-${b.hisBillNo}`,
        itemName: it.name,
        category: it.category ?? '14',
        quantity: String(it.quantity),
        amountFen: it.amountFen,
      });
    }
  }
  return out;
}

function sameSplit(a: InsuranceSplit, b: InsuranceSplit): boolean {
  return (
    a.totalFen === b.totalFen &&
    a.fundFen === b.fundFen &&
    a.psnAcctFen === b.psnAcctFen &&
    a.otherFen === b.otherFen &&
    a.cashFen === b.cashFen
  );
}

/**
 * Quote: the bills become an order (CREATED, bills held) and the fee details are uploaded (6201). The split
 * the platform returns must add up and match the order's amount, or the quote fails and nothing is held.
 */
export async function createQuote(
  deps: Deps,
  who: PatientPrincipal,
  input: InsuranceQuoteRequest,
): Promise<InsuranceOrderView> {
  const { db, clock, config } = deps;
  const nhsa = await platformOf(deps, who.hospitalId);
  const { auth, secrets } = await requireAuthorization(deps, who);
  const medins = await deps.channels.insuranceForHospital(who.hospitalId, 'wxmedins');
  const settleChannel =
    input.settleChannel ?? (medins && input.tradeType === 'JSAPI' && who.openId ? 'wxmedins' : 'nhsa');
  if (settleChannel === 'wxmedins' && (!medins || !who.openId || input.tradeType !== 'JSAPI'))
    throw new AppError(
      'bad_request',
      'WeChat insurance pay needs the mini-program (JSAPI and a WeChat login)',
    );
  if (input.tradeType === 'JSAPI' && !who.openId)
    throw new AppError('bad_request', 'JSAPI payment needs a WeChat login (openid); use NATIVE or H5');
  const cash = await deps.channels.forHospital(who.hospitalId, 'wechatpay');
  const settler = settleChannel === 'wxmedins' ? medins! : nhsa;
  const billIds = [...new Set(input.billIds)];
  await recheckBillsWithHis(deps, who, billIds);

  const now = clock.now();
  const expiresAt = new Date(now.getTime() + config.orderExpiryMinutes[input.tradeType] * 60_000);
  const orderId = newId('ord', now.getTime());
  const orderNo = newOrderNo(now);
  const settlementId = newId('ins', now.getTime());
  const { order, rows } = await db.transaction(async (tx) => {
    const taken = await takeBills(tx, who, billIds, orderId, (amountFen) => ({
      id: orderId,
      orderNo,
      hospitalId: who.hospitalId,
      patientId: who.patientId,
      status: 'CREATED',
      amountFen,
      channel: cash.channel,
      tradeType: input.tradeType,
      merchantAccountId: cash.id,
      expiresAt,
    }));
    await tx.insert(orderEvents).values({
      orderId,
      hospitalId: who.hospitalId,
      event: 'created',
      fromStatus: null,
      toStatus: 'CREATED',
      actor: `patient:${who.patientId}`,
      data: { billIds, amountFen: taken.amountFen, insurance: settleChannel },
    });
    await tx.insert(insuranceSettlements).values({
      id: settlementId,
      orderId,
      hospitalId: who.hospitalId,
      patientId: who.patientId,
      authorizationId: auth.id,
      platformAccountId: nhsa.id,
      settleChannel,
      settleAccountId: settler.id,
      status: 'QUOTING',
      totalFen: taken.amountFen,
    });
    // Cleans up after an abandoned quote (revokes the upload, releases the bills) once the order expires.
    await enqueueSync(deps, tx, orderId, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000) + 5);
    return taken;
  });

  const [patient] = await db.select().from(patients).where(eq(patients.id, who.patientId));
  const first = rows[0]!;
  const out = await nhsa.platform!.uploadFees({
    orderNo,
    payAuthNo: secrets.payAuthNo,
    person: secrets.person,
    feeType: '01',
    medType: '11',
    visitNo: first.visitNo ?? first.hisBillNo,
    deptCode: first.department ?? 'GEN',
    deptName: first.department ?? '门诊',
    useAccount: input.useAccount,
    details: feeDetails(orderNo, rows),
    totalFen: order.amountFen,
    beganAt: first.createdAt,
  });
  const split = out.split;
  const good =
    out.result === 'SUCCESS' &&
    split &&
    out.payOrdId &&
    checkSplit(split) &&
    split.totalFen === order.amountFen;
  await db.transaction(async (tx) => {
    const s = (await lockSettlement(tx, orderId))!;
    if (good) {
      await moveSettlement(tx, s, ['QUOTING'], 'QUOTED', {
        payOrdId: out.payOrdId!,
        secretEnc: deps.secrets.seal(
          JSON.stringify({ payToken: out.payToken ?? '', openId: who.openId ?? null }),
        ),
        fundFen: split.fundFen,
        psnAcctFen: split.psnAcctFen,
        otherFen: split.otherFen,
        cashFen: split.cashFen,
        quoteData: out.extra ?? {},
      });
      await recordEvent(tx, order, 'insurance_quoted', {
        actor: ACTOR,
        data: { ...split, payOrdId: out.payOrdId, patient: patient?.hisPatientId },
      });
      return;
    }
    const why =
      out.result === 'SUCCESS'
        ? `the platform's split does not add up to the order (${JSON.stringify(split ?? {})})`
        : `${out.errorCode ?? out.result} ${out.errorMessage ?? ''}`.trim();
    await moveSettlement(tx, s, ['QUOTING'], 'FAILED', {
      payOrdId: out.payOrdId ?? null,
      errorCode: out.errorCode ?? (out.result === 'SUCCESS' ? 'SPLIT_INCONSISTENT' : out.result),
      errorMessage: why.slice(0, 300),
    });
    if (await transition(tx, orderId, 'fail', { actor: ACTOR, reason: `insurance quote failed: ${why}` }))
      await releaseBills(tx, orderId);
  });
  if (!good) {
    if (out.payOrdId) {
      // An upload whose split we refused is withdrawn now; the sync job does not know its number otherwise.
      await nhsa.platform!.revokeUpload({
        orderNo,
        payOrdId: out.payOrdId,
        payAuthNo: secrets.payAuthNo,
        person: secrets.person,
      });
    }
    if (out.result === 'UNKNOWN' || out.result === 'PENDING')
      throw new AppError('channel_unavailable', '医保平台暂未响应，请稍后重试，或选择自费支付', {
        details: { orderId },
      });
    throw new AppError(
      'insurance_refused',
      `医保费用上传失败：${out.errorMessage ?? out.errorCode ?? '分账金额不符'}；可选择自费支付`,
      { details: { orderId } },
    );
  }
  return insuranceOrderView(deps, who, orderId);
}

/** The order as its patient sees it: split, settlement state and, while paying, what the sheets need. */
export async function insuranceOrderView(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<InsuranceOrderView> {
  const order = await ownOrder(deps, who, orderId);
  const [s, payment] = await Promise.all([
    findSettlement(deps.db, orderId),
    findPaymentByOrder(deps.db, orderId),
  ]);
  if (!s) throw notFound('insurance order');
  const prepay = (payment?.prepay ?? {}) as NonNullable<InsuranceOrderView['pay']>;
  const waitingCash =
    order.status === 'PAYING' &&
    s.status === 'SETTLED' &&
    payment?.status === 'PENDING' &&
    s.settleChannel === 'nhsa';
  return {
    orderId: order.id,
    orderNo: order.orderNo,
    status: order.status as InsuranceOrderView['status'],
    settlementStatus: s.status,
    settleChannel: s.settleChannel as InsuranceOrderView['settleChannel'],
    split: splitOf(s),
    expiresAt: order.expiresAt.toISOString(),
    pay:
      waitingCash && (prepay.codeUrl || prepay.h5Url || prepay.jsapi)
        ? {
            ...(prepay.codeUrl ? { codeUrl: prepay.codeUrl } : {}),
            ...(prepay.h5Url ? { h5Url: prepay.h5Url } : {}),
            ...(prepay.jsapi ? { jsapi: prepay.jsapi } : {}),
          }
        : null,
    medicalInsurancePay:
      order.status === 'PAYING' && s.status === 'SETTLING' ? (s.clientParams ?? null) : null,
    error: s.errorMessage,
  };
}

/** Inserts the cash part's payment and its first query job (in the caller's transaction). */
async function addCashPayment(deps: Deps, tx: Tx, order: OrderRow, cashFen: number) {
  const [pay] = await tx
    .insert(payments)
    .values({
      id: newId('pay', deps.clock.now().getTime()),
      orderId: order.id,
      hospitalId: order.hospitalId,
      channel: order.channel,
      tradeType: order.tradeType,
      outTradeNo: order.orderNo,
      amountFen: cashFen,
    })
    .returning();
  await deps.jobs.send(
    QUEUES.paymentQuery,
    { orderId: order.id, attempt: 0 },
    { startAfterSeconds: queryDelaySeconds(deps, 0, order.expiresAt, order.tradeType) },
    tx,
  );
  return pay!;
}

async function orderTitle(deps: Deps, orderId: string): Promise<string> {
  const rows = await deps.db
    .select({ title: bills.title })
    .from(orderBills)
    .innerJoin(bills, eq(bills.id, orderBills.billId))
    .where(eq(orderBills.orderId, orderId))
    .orderBy(asc(bills.createdAt));
  return rows.length > 1 ? `${rows[0]!.title}等${rows.length}项` : (rows[0]?.title ?? '医疗费用');
}

/** Asks WeChat Pay for the cash part's prepay (outside any transaction) and keeps what the sheet needs. */
async function requestCashPrepay(deps: Deps, order: OrderRow, cashFen: number, openId?: string) {
  const account = await deps.channels.get(order.merchantAccountId);
  const input = {
    orderNo: order.orderNo,
    amountFen: cashFen,
    description: await orderTitle(deps, order.id),
    tradeType: order.tradeType as 'JSAPI' | 'NATIVE' | 'H5',
    expiresAt: order.expiresAt,
    notifyUrl: `${deps.urls.public}/notify/${account.channel}/${account.id}`,
    payerOpenId: openId,
  };
  let res = await account.adapter.createPayment(input);
  if (res.result === 'UNKNOWN') res = await account.adapter.createPayment(input);
  if (res.result === 'SUCCESS') {
    await deps.db
      .update(payments)
      .set({ prepay: res.prepay ?? {}, updatedAt: sql`now()` })
      .where(eq(payments.orderId, order.id));
  }
  // FAIL or UNKNOWN: the payment query job finds the order missing or refused, fails it, and the close hook
  // reverses the insurance part.
  return res;
}

/**
 * The patient confirms the quote: the insurance part is settled and the cash part collected.
 * - nhsa: 6202 settles the insurance part now; then WeChat Pay collects the cash part (none when cash is 0).
 * - wxmedins: the cash part's JSAPI prepay is made first; WeChat's mixed order takes both parts in one sheet
 *   (`medicalInsurancePay` for `wx.requestMedicalInsurancePay`); its notification or the sync job settles it.
 */
export async function payQuote(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<InsuranceOrderView> {
  const { db, clock } = deps;
  await ownOrder(deps, who, orderId);
  const started = await db.transaction(async (tx) => {
    const order = (await lockOrderById(tx, orderId))!;
    const s = await lockSettlement(tx, orderId);
    if (!s) throw notFound('insurance order');
    if (order.status !== 'CREATED' || s.status !== 'QUOTED')
      throw new AppError('order_not_payable', `order ${order.orderNo} is ${order.status.toLowerCase()}`);
    if (clock.now() >= order.expiresAt) throw new AppError('order_not_payable', '报价已过期，请重新下单');
    await moveSettlement(tx, s, ['QUOTED'], 'SETTLING');
    const moved = await transition(tx, orderId, 'start_payment', {
      actor: `patient:${who.patientId}`,
      data: { insurance: s.settleChannel, split: splitOf(s) },
    });
    // The wxmedins sheet takes the cash part too: its payment exists from the start.
    if (s.settleChannel === 'wxmedins' && s.cashFen > 0) await addCashPayment(deps, tx, moved!, s.cashFen);
    await enqueueSync(deps, tx, orderId, 5);
    return { order: moved!, s };
  });
  const { order, s } = started;
  const auth = await db
    .select()
    .from(insuranceAuthorizations)
    .where(eq(insuranceAuthorizations.id, s.authorizationId));
  const secrets = openAuth(deps, auth[0]!.secretEnc);
  const { payToken } = JSON.parse(deps.secrets.open(s.secretEnc!)) as { payToken: string };
  const settler = await deps.channels.insurance(s.settleAccountId);
  let cashPrepayId: string | undefined;
  if (s.settleChannel === 'wxmedins' && s.cashFen > 0) {
    const prepay = await requestCashPrepay(deps, order, s.cashFen, who.openId);
    cashPrepayId = prepay.prepay?.jsapi?.package?.replace(/^prepay_id=/, '');
    if (!cashPrepayId) return insuranceOrderView(deps, who, orderId); // the query job fails it and the hook tidies up
  }
  const res = await settler.settler.settle({
    orderNo: order.orderNo,
    payOrdId: s.payOrdId!,
    payToken,
    payAuthNo: secrets.payAuthNo,
    person: secrets.person,
    split: splitOf(s),
    notifyUrl: `${deps.urls.public}/notify/insurance/${settler.id}`,
    description: await orderTitle(deps, orderId),
    openId: who.openId,
    cashPrepayId,
  });
  if (res.result === 'SUCCESS' && res.client) {
    await db
      .update(insuranceSettlements)
      .set({
        clientParams: res.client,
        mixTradeNo: res.settlement?.mixTradeNo ?? null,
        updatedAt: sql`now()`,
      })
      .where(eq(insuranceSettlements.id, s.id));
  }
  if (res.result === 'SUCCESS' && res.settlement) {
    await applySettlement(deps, settler, res.settlement, 'settle_call', who.openId);
  } else if (res.result === 'FAIL') {
    // A refusal is believed only when the settling party, asked at once, confirms nothing was settled: an
    // error code we do not know, or a reply whose amounts do not add up, may hide a settlement. Otherwise the
    // settlement stays SETTLING and the sync job asks until it knows.
    const q = await settler.settler.querySettlement(order.orderNo, s.payOrdId!, secrets.payAuthNo);
    const st = q.result === 'SUCCESS' ? q.settlement : undefined;
    if (st?.state === 'SETTLED') {
      await applySettlement(deps, settler, st, 'query', who.openId);
    } else if (st && ['PENDING', 'NOT_FOUND', 'FAILED'].includes(st.state)) {
      await applySettlement(
        deps,
        settler,
        {
          orderNo: order.orderNo,
          state: 'FAILED',
          rawState: `${res.errorCode ?? ''} ${res.errorMessage ?? ''}`.trim(),
        },
        'settle_call',
      );
    }
  }
  // UNKNOWN / PENDING: the sync job asks until it knows.
  const view = await insuranceOrderView(deps, who, orderId);
  if (
    view.status === 'PAYING' &&
    view.settlementStatus === 'SETTLED' &&
    s.settleChannel === 'nhsa' &&
    s.cashFen > 0 &&
    !view.pay
  ) {
    // The 6302 notification settled it first and its handler is still asking WeChat Pay for the cash part's
    // prepay: ask too (the same out_trade_no is answered with the same prepay), so the patient gets the sheet now.
    const current = await findOrder(deps.db, orderId);
    const [payment] = await deps.db.select().from(payments).where(eq(payments.orderId, orderId));
    if (current && payment?.status === 'PENDING') {
      await requestCashPrepay(deps, current, s.cashFen, who.openId);
      return insuranceOrderView(deps, who, orderId);
    }
  }
  return view;
}

/** The patient gives up a quote: the upload is withdrawn (6401) and the bills released. */
export async function cancelQuote(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<InsuranceOrderView> {
  await ownOrder(deps, who, orderId);
  const s = await findSettlement(deps.db, orderId);
  if (!s) throw notFound('insurance order');
  if (s.status !== 'QUOTED')
    throw new AppError('order_not_payable', `the quote is ${s.status.toLowerCase()}`);
  if (!(await revokeQuote(deps, orderId, 'cancelled by the patient')))
    await closeQuoteLocally(deps, orderId, 'cancelled by the patient');
  return insuranceOrderView(deps, who, orderId);
}

/**
 * Withdraws a quoted upload (6401) and closes its order, releasing the bills. Used for an abandoned quote, a
 * cancelled one, and a settlement that never happened before the order ended. False when the platform did
 * not confirm (the caller tries again later).
 */
export async function revokeQuote(deps: Deps, orderId: string, why: string): Promise<boolean> {
  const s = await findSettlement(deps.db, orderId);
  if (!s) return false;
  if (s.payOrdId) {
    const nhsa = await deps.channels.insurance(s.platformAccountId);
    const [auth] = await deps.db
      .select()
      .from(insuranceAuthorizations)
      .where(eq(insuranceAuthorizations.id, s.authorizationId));
    const secrets = openAuth(deps, auth!.secretEnc);
    const order = (await findOrder(deps.db, orderId))!;
    const r = await nhsa.platform!.revokeUpload({
      orderNo: order.orderNo,
      payOrdId: s.payOrdId,
      payAuthNo: secrets.payAuthNo,
      person: secrets.person,
    });
    if (r.result !== 'SUCCESS') return false;
  }
  await deps.db.transaction(async (tx) => {
    const row = (await lockSettlement(tx, orderId))!;
    const moved = await moveSettlement(tx, row, ['QUOTING', 'QUOTED', 'CLOSING', 'SETTLING'], 'REVOKED');
    // Something else decided meanwhile (a settlement applied, say): that path owns the order now.
    if (!moved && row.status !== 'REVOKED') return;
    const closed = await transition(tx, orderId, 'close', {
      actor: ACTOR,
      reason: why,
      patch: { closedAt: deps.clock.now() },
    });
    if (closed) await releaseBills(tx, orderId);
    await settleEndedCash(deps, tx, orderId, why);
  });
  return true;
}

/**
 * A quote the platform would not let us withdraw yet (6401 refused or unanswered): nothing was sent to settle
 * it (6202 needs the payToken only we hold), so the order is closed and the bills released now; the sync job
 * keeps asking for the withdrawal (CLOSING → query → 6401).
 */
export async function closeQuoteLocally(deps: Deps, orderId: string, why: string): Promise<void> {
  await deps.db.transaction(async (tx) => {
    const row = await lockSettlement(tx, orderId);
    if (!row || !(await moveSettlement(tx, row, ['QUOTING', 'QUOTED'], 'CLOSING'))) return;
    const closed = await transition(tx, orderId, 'close', {
      actor: ACTOR,
      reason: `${why}; withdrawal of the upload pending`,
      patch: { closedAt: deps.clock.now() },
    });
    if (closed) await releaseBills(tx, orderId);
    await enqueueSync(deps, tx, orderId, 30);
  });
}

/**
 * The cash part of an insurance order that ended without completing: taken → refunded (repair); still open at
 * the channel → the payment query job follows it until it is closed there (or paid, then refunded).
 */
async function settleEndedCash(deps: Deps, tx: Tx, orderId: string, why: string) {
  const [payment] = await tx.select().from(payments).where(eq(payments.orderId, orderId));
  if (payment?.status === 'SUCCESS') {
    const order = (await findOrder(tx, orderId))!;
    await startCashRepair(deps, tx, order, payment.id, payment.amountFen, why);
  } else if (payment?.status === 'PENDING') {
    await deps.jobs.send(QUEUES.paymentQuery, { orderId, attempt: 0 }, { startAfterSeconds: 5 }, tx);
  }
}

/**
 * Applies what the settling party says about an order's insurance part (settle reply, notification, query),
 * under the order's lock, idempotently. Cross-checks the pay order and the split. Returns what it did.
 */
export async function applySettlement(
  deps: Deps,
  settler: ResolvedInsurance,
  st: InsuranceSettlement,
  source: 'settle_call' | 'notification' | 'query',
  openId?: string,
): Promise<'applied' | 'duplicate' | 'conflict' | 'ignored' | 'unknown_order'> {
  const actor = `insurance:${settler.channel}:${source}`;
  const needCash = await deps.db.transaction(async (tx) => {
    const [orderRow] = await tx
      .select()
      .from(insuranceSettlements)
      .where(eq(insuranceSettlements.orderId, sql`(SELECT id FROM orders WHERE order_no = ${st.orderNo})`));
    if (!orderRow) return { outcome: 'unknown_order' as const };
    const order = (await lockOrderById(tx, orderRow.orderId))!;
    const s = (await lockSettlement(tx, order.id))!;
    const facts = { ...st, split: st.split, source };
    if (s.settleAccountId !== settler.id || (st.payOrdId && s.payOrdId && st.payOrdId !== s.payOrdId)) {
      await raiseAlert(tx, {
        hospitalId: order.hospitalId,
        kind: 'insurance_mismatch',
        severity: 'critical',
        orderId: order.id,
        message: `医保结算结果与订单 ${order.orderNo} 的账户或支付订单号不符`,
        data: facts,
      });
      return { outcome: 'conflict' as const };
    }
    if (st.state === 'PENDING' || st.state === 'NOT_FOUND') return { outcome: 'ignored' as const };

    const insuranceOk = st.state === 'SETTLED' && (st.insuranceState ?? 'SETTLED') === 'SETTLED';
    if (insuranceOk) {
      if (['SETTLED', 'REVERSING', 'REVERSED', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(s.status)) {
        // Already applied. Later amounts may be net of refunds: never act on them, but let a person compare.
        if (st.split && s.status === 'SETTLED' && !sameSplit(st.split, splitOf(s)))
          await raiseAlert(tx, {
            hospitalId: order.hospitalId,
            kind: 'insurance_split_mismatch',
            severity: 'warning',
            orderId: order.id,
            message: `医保订单 ${order.orderNo} 再次收到的结算分账与已结算的不同：${JSON.stringify(st.split)}`,
            data: facts,
          });
        return { outcome: 'duplicate' as const };
      }
      if (st.split && !sameSplit(st.split, splitOf(s))) {
        // The platform settled other amounts than it quoted: never PAID on a split nobody agreed to.
        await raiseAlert(tx, {
          hospitalId: order.hospitalId,
          kind: 'insurance_split_mismatch',
          severity: 'critical',
          orderId: order.id,
          message: `医保订单 ${order.orderNo} 结算分账与报价不符：结算 ${JSON.stringify(st.split)}`,
          data: facts,
        });
        // Whatever we thought of it (quoted, settling, closing, revoked, failed), it did settle: reverse it.
        await moveSettlement(tx, s, ['QUOTED', 'SETTLING', 'CLOSING', 'REVOKED', 'FAILED'], 'SETTLED', {
          settlementId: st.settlementId ?? null,
          settledAt: st.settledAt ?? deps.clock.now(),
        });
        const s2 = (await lockSettlement(tx, order.id))!;
        await transition(tx, order.id, 'conflict', {
          actor,
          reason: 'insurance split differs from the quote',
        });
        await startInsuranceRepair(deps, tx, order, s2, 'settled split differs from the quote');
        return { outcome: 'conflict' as const };
      }
      const settledAt = st.settledAt ?? deps.clock.now();
      const patch = {
        settlementId: st.settlementId ?? s.settlementId,
        mixTradeNo: st.mixTradeNo ?? s.mixTradeNo,
        settledAt,
        errorCode: null,
        errorMessage: null,
      };
      if (
        s.status === 'CLOSING' ||
        s.status === 'REVOKED' ||
        s.status === 'FAILED' ||
        order.status !== 'PAYING'
      ) {
        // Insurance settled for an order that already ended: a late success — reverse it and tell staff.
        await tx
          .update(insuranceSettlements)
          .set({ ...patch, status: 'SETTLED', updatedAt: sql`now()` })
          .where(eq(insuranceSettlements.id, s.id));
        await raiseAlert(tx, {
          hospitalId: order.hospitalId,
          kind: 'insurance_late_settlement',
          severity: 'critical',
          orderId: order.id,
          message: `医保订单 ${order.orderNo} 在订单结束后才结算成功：医保部分自动撤销退回，请核对`,
          data: facts,
        });
        await recordEvent(tx, order, 'insurance_settled_late', { actor, data: facts });
        const s2 = (await lockSettlement(tx, order.id))!;
        await startInsuranceRepair(
          deps,
          tx,
          order,
          s2,
          `insurance settled after the order was ${order.status.toLowerCase()}`,
        );
        return { outcome: 'conflict' as const };
      }
      await moveSettlement(tx, s, ['QUOTED', 'SETTLING'], 'SETTLED', patch);
      await recordEvent(tx, order, 'insurance_settled', {
        actor,
        data: { ...splitOf(s), settlementId: patch.settlementId },
      });
      const [payment] = await tx.select().from(payments).where(eq(payments.orderId, order.id));
      if (s.cashFen === 0 || payment?.status === 'SUCCESS') {
        await completePaidOrder(deps, tx, order, {
          actor,
          data: facts,
          paidAt: payment?.paidAt ?? settledAt,
        });
        return { outcome: 'applied' as const };
      }
      if (!payment) {
        await addCashPayment(deps, tx, order, s.cashFen);
        return { outcome: 'applied' as const, cash: { order, cashFen: s.cashFen, secretEnc: s.secretEnc } };
      }
      return { outcome: 'applied' as const };
    }

    // The insurance part failed (or WeChat's mixed order failed as a whole).
    if (!['QUOTED', 'SETTLING', 'CLOSING'].includes(s.status)) return { outcome: 'duplicate' as const };
    if (st.insuranceState === 'SETTLED') {
      // WeChat's mixed order: insurance settled but the cash part failed. The order fails and the insurance
      // part is reversed.
      await moveSettlement(tx, s, ['QUOTED', 'SETTLING', 'CLOSING'], 'SETTLED', {
        settlementId: st.settlementId ?? s.settlementId,
        mixTradeNo: st.mixTradeNo ?? s.mixTradeNo,
        settledAt: st.settledAt ?? deps.clock.now(),
      });
      const failed = await transition(tx, order.id, 'fail', {
        actor,
        reason: `cash part failed (${st.rawState ?? st.cashState ?? ''}); insurance part settled, reversed`,
        patch: { closedAt: deps.clock.now() },
      });
      if (failed) await releaseBills(tx, order.id);
      const s2 = (await lockSettlement(tx, order.id))!;
      await startInsuranceRepair(deps, tx, failed ?? order, s2, 'cash part failed');
      await settleEndedCash(deps, tx, order.id, 'cash part failed');
      return { outcome: 'applied' as const };
    }
    await moveSettlement(tx, s, ['QUOTED', 'SETTLING', 'CLOSING'], 'FAILED', {
      errorCode: st.rawState?.slice(0, 60) ?? 'FAILED',
      errorMessage: `医保结算失败：${st.rawState ?? ''}`.slice(0, 300),
    });
    const failed = await transition(tx, order.id, 'fail', {
      actor,
      reason: `insurance part failed: ${st.rawState ?? st.state}`,
      patch: { closedAt: deps.clock.now() },
    });
    if (failed) await releaseBills(tx, order.id);
    await settleEndedCash(deps, tx, order.id, 'insurance part failed');
    return { outcome: 'applied' as const };
  });
  if ('cash' in needCash && needCash.cash) {
    const { cash } = needCash;
    const kept = cash.secretEnc
      ? (JSON.parse(deps.secrets.open(cash.secretEnc)) as { openId?: string | null })
      : {};
    await requestCashPrepay(deps, cash.order, cash.cashFen, openId ?? kept.openId ?? undefined);
  }
  return needCash.outcome;
}

/** The patient's open insurance orders' state for the admin and the sweep: settlements not yet final. */
export const LIVE_SETTLEMENT_STATES = ['QUOTING', 'QUOTED', 'SETTLING', 'CLOSING'] as const;

/** Whether the hospital's order (by number) has an insurance part. */
export async function orderHasInsurancePart(deps: Pick<Deps, 'db'>, hospitalId: string, orderNo: string) {
  const rows = await deps.db
    .select({ id: insuranceSettlements.id })
    .from(insuranceSettlements)
    .where(
      and(
        eq(insuranceSettlements.hospitalId, hospitalId),
        eq(insuranceSettlements.orderId, sql`(SELECT id FROM orders WHERE order_no = ${orderNo})`),
      ),
    )
    .limit(1);
  return rows.length > 0;
}

/**
 * The patient came back from WeChat's insurance sheet (the mini-program's scene 1038, the H5's return page):
 * a client-side success proves nothing, so while the settlement is not final the settling party is asked now
 * and its answer applied, exactly as the sync job would; then the order as it stands.
 */
export async function returnFromSheet(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<InsuranceOrderView> {
  await ownOrder(deps, who, orderId);
  const s = await findSettlement(deps.db, orderId);
  if (!s) throw notFound('insurance order');
  if (s.status === 'SETTLING') {
    const order = (await findOrder(deps.db, orderId))!;
    const settler = await deps.channels.insurance(s.settleAccountId);
    const [auth] = await deps.db
      .select()
      .from(insuranceAuthorizations)
      .where(eq(insuranceAuthorizations.id, s.authorizationId));
    const q = await settler.settler.querySettlement(
      order.orderNo,
      s.payOrdId ?? undefined,
      openAuth(deps, auth!.secretEnc).payAuthNo,
    );
    if (q.result === 'SUCCESS' && q.settlement && ['SETTLED', 'FAILED'].includes(q.settlement.state))
      await applySettlement(deps, settler, q.settlement, 'query', who.openId);
  }
  return insuranceOrderView(deps, who, orderId);
}
