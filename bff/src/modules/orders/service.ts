import type {
  ChannelName,
  CreateOrderRequest,
  OrderView,
  PatientChannels,
  PatientOrderDetail,
  PatientOrdersPage,
  PatientOrderSummary,
} from '@hp/shared';
import { CHANNELS, sumFen } from '@hp/shared';
import { and, asc, desc, eq, inArray, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client';
import { bills, merchantAccounts, orderBills, orderEvents, orders, payments, refunds } from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { AppError, notFound } from '../../lib/errors';
import { TRANSITIONS } from './state';
import { recheckBillsWithHis } from '../bills/pull';
import { applyChannelPayment } from '../payments/service';
import { newId, newOrderNo } from '../../lib/ids';
import {
  billIdsOfOrder,
  findOrder,
  findPaymentByOrder,
  releaseBills,
  transition,
  type OrderRow,
  type PaymentRow,
} from './repo';

/** Who is asking: the patient session. */
export interface PatientPrincipal {
  patientId: string;
  hospitalId: string;
  openId?: string;
  /** The account holding the session (patient_accounts): whose bound cards are listed. */
  accountId?: string;
}

/** Any patient session: a WeChat login may have no patient until a card is bound and chosen. */
export type SessionPrincipal = Omit<PatientPrincipal, 'patientId'> & { patientId?: string };

/** What the payment sheet needs while the order is PAYING (patient API only); null otherwise. */
function payParams(o: OrderRow, payment?: PaymentRow): OrderView['pay'] {
  const prepay = (payment?.prepay ?? {}) as NonNullable<OrderView['pay']>;
  if (o.status !== 'PAYING' || !(prepay.codeUrl || prepay.h5Url || prepay.jsapi)) return null;
  return {
    ...(prepay.codeUrl ? { codeUrl: prepay.codeUrl } : {}),
    ...(prepay.h5Url ? { h5Url: prepay.h5Url } : {}),
    ...(prepay.jsapi ? { jsapi: prepay.jsapi } : {}),
  };
}

export function toOrderView(
  o: OrderRow,
  billIds: string[],
  payment?: PaymentRow,
  opts: { forPatient?: boolean } = {},
): OrderView {
  return {
    ...(opts.forPatient ? { pay: payParams(o, payment) } : {}),
    id: o.id,
    orderNo: o.orderNo,
    status: o.status as OrderView['status'],
    amountFen: o.amountFen,
    channel: o.channel,
    tradeType: o.tradeType,
    billIds,
    expiresAt: o.expiresAt.toISOString(),
    paidAt: o.paidAt?.toISOString() ?? null,
    settledAt: o.settledAt?.toISOString() ?? null,
    codeUrl: ((payment?.prepay as { codeUrl?: string } | null)?.codeUrl as string | undefined) ?? null,
  };
}

/** The delay before the n-th channel query of a PAYING order (0-based), never past its expiry by much. */
export function queryDelaySeconds(
  deps: Pick<Deps, 'config' | 'clock'>,
  attempt: number,
  expiresAt: Date,
  tradeType?: string,
): number {
  // A payment code is answered within seconds or reversed: poll it briskly.
  if (tradeType === 'MICROPAY') return deps.config.micropayPollSeconds;
  const curve = deps.config.paymentQueryBackoffSeconds;
  const step = curve[Math.min(attempt, curve.length - 1)]!;
  const untilExpiry = (expiresAt.getTime() - deps.clock.now().getTime()) / 1000 + 1;
  return untilExpiry > 0 ? Math.min(step, untilExpiry) : step;
}

/**
 * Takes the patient's bills for a new order, in the caller's transaction: locks them, checks each is unpaid and
 * held by no live order, computes the amount from them, inserts the order (`values(amountFen)`), its bill
 * lines, and holds the bills for it. Throws not_found, bill_not_payable, bill_locked or bad_request.
 */
export async function takeBills(
  tx: Tx,
  who: PatientPrincipal,
  billIds: string[],
  orderId: string,
  values: (amountFen: number) => typeof orders.$inferInsert,
): Promise<{ rows: (typeof bills.$inferSelect)[]; amountFen: number; order: OrderRow }> {
  const rows = await tx
    .select()
    .from(bills)
    .where(
      and(
        inArray(bills.id, billIds),
        eq(bills.patientId, who.patientId),
        eq(bills.hospitalId, who.hospitalId),
      ),
    )
    .for('update');
  if (rows.length !== billIds.length) {
    const found = new Set(rows.map((r) => r.id));
    throw new AppError('not_found', `bill ${billIds.find((id) => !found.has(id))} not found`);
  }
  for (const b of rows) {
    if (b.status !== 'UNPAID')
      throw new AppError('bill_not_payable', `bill ${b.id} is ${b.status.toLowerCase()}`);
    if (b.lockedOrderId)
      throw new AppError('bill_locked', `bill ${b.id} is already being paid in order ${b.lockedOrderId}`);
  }
  const amountFen = sumFen(rows.map((r) => r.amountFen));
  if (amountFen <= 0) throw new AppError('bad_request', 'nothing to pay');
  const [order] = await tx.insert(orders).values(values(amountFen)).returning();
  await tx
    .insert(orderBills)
    .values(rows.map((b) => ({ orderId, billId: b.id, billVersion: b.version, amountFen: b.amountFen })));
  const held = await tx
    .update(bills)
    .set({ lockedOrderId: orderId, updatedAt: sql`now()` })
    .where(and(inArray(bills.id, billIds), eq(bills.status, 'UNPAID'), sql`${bills.lockedOrderId} IS NULL`))
    .returning({ id: bills.id });
  if (held.length !== billIds.length)
    throw new AppError('bill_locked', 'a bill was taken by another order, please retry');
  return { rows, amountFen, order: order! };
}

/**
 * Creates an order over the patient's bills and starts the payment at the channel.
 * 1. One transaction: lock the bills, compute the amount from them, insert the order (CREATED), hold the
 *    bills, insert the payment intent, move to PAYING and enqueue the first channel query.
 * 2. Outside any transaction: call the channel.
 * 3. Record the outcome: prepay data, or FAILED with the bills released. A timeout leaves the order
 *    PAYING for the query job to resolve — never a guess.
 */
export async function createOrder(
  deps: Deps,
  who: PatientPrincipal,
  input: CreateOrderRequest,
  extra: { authCode?: string; clientIp?: string } = {},
): Promise<OrderView> {
  const { db, clock, config } = deps;
  const billIds = [...new Set(input.billIds)];
  if (input.tradeType === 'MICROPAY' && !extra.authCode) {
    throw new AppError(
      'bad_request',
      'a payment-code payment is taken at the window: POST /open/v1/code-payments',
    );
  }
  if (input.tradeType === 'JSAPI' && !who.openId) {
    throw new AppError('bad_request', 'JSAPI payment needs a WeChat login (openid); use NATIVE or H5');
  }
  const account = await deps.channels.forHospital(who.hospitalId, input.channel);
  if (!account.adapter.capabilities.tradeTypes.includes(input.tradeType as never)) {
    throw new AppError('bad_request', `${input.channel} does not support ${input.tradeType}`);
  }
  await recheckBillsWithHis(deps, who, billIds);

  const now = clock.now();
  const expiresAt = new Date(now.getTime() + config.orderExpiryMinutes[input.tradeType] * 60_000);
  const orderId = newId('ord', now.getTime());
  const orderNo = newOrderNo(now);

  const { order, payment, titles } = await db.transaction(async (tx) => {
    const { rows, amountFen, order } = await takeBills(tx, who, billIds, orderId, (amountFen) => ({
      id: orderId,
      orderNo,
      hospitalId: who.hospitalId,
      patientId: who.patientId,
      status: TRANSITIONS.start_payment.to,
      amountFen,
      channel: input.channel,
      tradeType: input.tradeType,
      merchantAccountId: account.id,
      expiresAt,
    }));
    const [pay] = await tx
      .insert(payments)
      .values({
        id: newId('pay', now.getTime()),
        orderId,
        hospitalId: who.hospitalId,
        channel: input.channel,
        tradeType: input.tradeType,
        outTradeNo: orderNo,
        amountFen,
      })
      .returning();
    await tx.insert(orderEvents).values([
      {
        orderId,
        hospitalId: who.hospitalId,
        event: 'created',
        fromStatus: null,
        toStatus: 'CREATED',
        actor: `patient:${who.patientId}`,
        data: { billIds, amountFen },
      },
      {
        orderId,
        hospitalId: who.hospitalId,
        event: 'start_payment',
        fromStatus: 'CREATED',
        toStatus: TRANSITIONS.start_payment.to,
        actor: 'system',
        data: { channel: input.channel, tradeType: input.tradeType },
      },
    ]);
    // The first channel query is enqueued with the intent: a crash from here on is repaired by it.
    await deps.jobs.send(
      QUEUES.paymentQuery,
      { orderId, attempt: 0 },
      { startAfterSeconds: queryDelaySeconds(deps, 0, expiresAt, input.tradeType) },
      tx,
    );
    return { order, payment: pay!, titles: rows.map((r) => r.title) };
  });

  const description = titles.length === 1 ? titles[0]! : `${titles[0]}等${titles.length}项`;
  const prepayInput = {
    orderNo,
    amountFen: order.amountFen,
    description,
    tradeType: input.tradeType,
    expiresAt,
    notifyUrl: `${deps.urls.public}/notify/${account.channel}/${account.id}`,
    payerOpenId: who.openId,
    authCode: extra.authCode,
    clientIp: extra.clientIp,
  };
  let res = await account.adapter.createPayment(prepayInput);
  if (res.result === 'UNKNOWN' && input.tradeType !== 'MICROPAY') {
    // No answer: ask once more with the same out_trade_no. The channel answers an identical order with the
    // same prepay (or its refusal), so this cannot create a second payment — and the patient gets a QR now
    // instead of bills held until the order expires.
    res = await account.adapter.createPayment(prepayInput);
  }
  // A payment code comes from the HIS's window, which has no payment sheet to hand anything to.
  const forPatient = !extra.authCode;
  const current = async () => {
    const [o, p] = await Promise.all([findOrder(db, orderId), findPaymentByOrder(db, orderId)]);
    return toOrderView(o!, billIds, p, { forPatient });
  };

  if (res.result === 'SUCCESS' && res.payment) {
    // Payment code settled in the call itself.
    await db.transaction((tx) => applyChannelPayment(deps, account, res.payment!, 'pay_call', tx));
    return current();
  }
  if (input.tradeType === 'MICROPAY') {
    if (res.result !== 'FAIL') return current(); // USERPAYING or unknown: the query job polls, then reverses
    // A v2 failure reply is not signature-checked: believe the (verified) query, not the failure.
    const q = await account.adapter.queryPayment(orderNo);
    if (q.result === 'SUCCESS' && q.payment?.state === 'PAID') {
      await db.transaction((tx) => applyChannelPayment(deps, account, q.payment!, 'query', tx));
      return current();
    }
    const definitelyNot =
      q.result === 'SUCCESS' && ['NOT_FOUND', 'FAILED', 'CLOSED'].includes(q.payment?.state ?? '');
    if (!definitelyNot) return current();
  }

  if (res.result === 'SUCCESS') {
    await db
      .update(payments)
      .set({ prepay: res.prepay ?? {}, updatedAt: sql`now()` })
      .where(eq(payments.id, payment.id));
    return toOrderView(order, billIds, { ...payment, prepay: res.prepay ?? {} }, { forPatient });
  }
  if (res.result === 'FAIL') {
    await db.transaction(async (tx) => {
      const failed = await transition(tx, orderId, 'fail', {
        actor: 'system',
        reason: `channel refused: ${res.errorCode ?? ''} ${res.errorMessage ?? ''}`.trim(),
        data: { errorCode: res.errorCode },
        patch: { closedAt: clock.now() },
      });
      if (failed) {
        await releaseBills(tx, orderId);
        await tx
          .update(payments)
          .set({ status: 'FAILED', updatedAt: sql`now()` })
          .where(eq(payments.id, payment.id));
      }
    });
    throw new AppError(
      'channel_error',
      `the payment channel refused the order (${res.errorCode ?? 'unknown'})`,
      { details: { orderId } },
    );
  }
  // UNKNOWN / PENDING: the channel may or may not have the order. The query job resolves it.
  throw new AppError(
    'channel_unavailable',
    'the payment channel did not answer; the order will be checked automatically, please try again shortly',
    {
      details: { orderId },
    },
  );
}

/** The patient's own order, or not found (another patient's order is indistinguishable from none). */
export async function ownOrder(
  deps: Pick<Deps, 'db'>,
  who: PatientPrincipal,
  orderId: string,
): Promise<OrderRow> {
  const order = await findOrder(deps.db, orderId);
  if (!order || order.patientId !== who.patientId || order.hospitalId !== who.hospitalId)
    throw notFound('order');
  return order;
}

/** One order as its patient sees it: with its bills, its refunds and, while PAYING, the payment sheet's data. */
export async function getOrderForPatient(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<PatientOrderDetail> {
  const order = await ownOrder(deps, who, orderId);
  const [billRows, payment, refundRows] = await Promise.all([
    deps.db
      .select({
        id: bills.id,
        hisBillNo: bills.hisBillNo,
        title: bills.title,
        department: bills.department,
        doctor: bills.doctor,
        amountFen: orderBills.amountFen,
      })
      .from(orderBills)
      .innerJoin(bills, eq(bills.id, orderBills.billId))
      .where(eq(orderBills.orderId, orderId))
      .orderBy(asc(bills.createdAt), asc(bills.id)),
    findPaymentByOrder(deps.db, orderId),
    deps.db
      .select()
      .from(refunds)
      .where(eq(refunds.orderId, orderId))
      .orderBy(asc(refunds.createdAt), asc(refunds.id)),
  ]);
  return {
    ...toOrderView(
      order,
      billRows.map((b) => b.id),
      payment,
      { forPatient: true },
    ),
    refundedFen: order.refundedFen,
    createdAt: order.createdAt.toISOString(),
    bills: billRows,
    refunds: refundRows.map((r) => ({
      refundNo: r.refundNo,
      amountFen: r.amountFen,
      status: r.status as PatientOrderDetail['refunds'][number]['status'],
      method: r.method === 'CASH' ? 'CASH' : 'CHANNEL',
      reason: r.reason,
      createdAt: r.createdAt.toISOString(),
      succeededAt: r.succeededAt?.toISOString() ?? null,
    })),
  };
}

/**
 * The QR content of a PAYING order paid by scanning (NATIVE: WeChat Pay, Alipay, the bank's aggregated code),
 * for a desktop browser to show; another patient's order is not found, an order that is not waiting for a scan
 * is `order_not_payable`.
 */
export async function qrContentForPatient(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<string> {
  const order = await ownOrder(deps, who, orderId);
  const codeUrl = payParams(order, await findPaymentByOrder(deps.db, orderId))?.codeUrl;
  if (!codeUrl) throw new AppError('order_not_payable', `order ${order.orderNo} is not waiting for a scan`);
  return codeUrl;
}

const HISTORY_PAGE_MAX = 50;
const ORDER_ID = sql.raw('"orders"."id"');

/** The keyset of a history page: (created_at, id) of the last order shown, opaque to the client. */
function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString('utf8').split('|');
  const when = new Date(at ?? '');
  if (!id || Number.isNaN(when.getTime()))
    throw new AppError('bad_request', 'cursor: not a cursor of this list');
  return { at: when, id };
}

/**
 * The patient's orders, newest first, a page at a time (keyset on created_at, id — the orders_patient index).
 * Orders that never reached the channel (FAILED at creation) are listed too: the patient saw them fail.
 */
export async function listOrdersForPatient(
  deps: Pick<Deps, 'db'>,
  who: PatientPrincipal,
  page: { cursor?: string; limit?: number },
): Promise<PatientOrdersPage> {
  const limit = Math.min(Math.max(page.limit ?? 20, 1), HISTORY_PAGE_MAX);
  const after = page.cursor ? decodeCursor(page.cursor) : undefined;
  const rows = await deps.db
    .select({
      id: orders.id,
      orderNo: orders.orderNo,
      status: orders.status,
      amountFen: orders.amountFen,
      refundedFen: orders.refundedFen,
      channel: orders.channel,
      createdAt: orders.createdAt,
      paidAt: orders.paidAt,
      // Qualified by hand: drizzle leaves a single table's columns unqualified, which the subquery would capture.
      firstTitle: sql<string>`(SELECT b.title FROM order_bills ob JOIN bills b ON b.id = ob.bill_id
        WHERE ob.order_id = ${ORDER_ID} ORDER BY b.created_at, b.id LIMIT 1)`,
      billCount: sql<number>`(SELECT count(*)::int FROM order_bills ob WHERE ob.order_id = ${ORDER_ID})`,
    })
    .from(orders)
    .where(
      and(
        eq(orders.patientId, who.patientId),
        eq(orders.hospitalId, who.hospitalId),
        after
          ? sql`(${orders.createdAt}, ${orders.id}) < (${after.at.toISOString()}::timestamptz, ${after.id})`
          : undefined,
      ),
    )
    .orderBy(desc(orders.createdAt), desc(orders.id))
    .limit(limit + 1);
  const shown = rows.slice(0, limit);
  const last = shown[shown.length - 1];
  return {
    orders: shown.map((r) => ({
      id: r.id,
      orderNo: r.orderNo,
      status: r.status as PatientOrderSummary['status'],
      amountFen: r.amountFen,
      refundedFen: r.refundedFen,
      channel: r.channel,
      title: r.billCount > 1 ? `${r.firstTitle}等${r.billCount}项` : (r.firstTitle ?? ''),
      billCount: r.billCount,
      createdAt: r.createdAt.toISOString(),
      paidAt: r.paidAt?.toISOString() ?? null,
    })),
    nextCursor:
      rows.length > limit && last
        ? Buffer.from(`${last.createdAt.toISOString()}|${last.id}`, 'utf8').toString('base64url')
        : null,
  };
}

/** What the patient's hospital accepts, and how each channel collects (payment codes are for the window). */
export async function channelsForPatient(deps: Deps, who: PatientPrincipal): Promise<PatientChannels> {
  const rows = await deps.db
    .selectDistinct({ channel: merchantAccounts.channel })
    .from(merchantAccounts)
    .where(and(eq(merchantAccounts.hospitalId, who.hospitalId), eq(merchantAccounts.enabled, true)))
    .orderBy(asc(merchantAccounts.channel));
  const out: PatientChannels['channels'] = [];
  for (const { channel } of rows) {
    if (!(CHANNELS as readonly string[]).includes(channel)) continue;
    const account = await deps.channels.forHospital(who.hospitalId, channel);
    out.push({
      channel: channel as ChannelName,
      tradeTypes: account.adapter.capabilities.tradeTypes.filter((t) => t !== 'MICROPAY'),
    });
  }
  return { channels: out };
}

/**
 * A payment-code payment at the window: the HIS names its bills, the bills name the patient, and the order
 * is made like any other — amount from the bills, one live order per bill.
 */
export async function createCodePayment(
  deps: Deps,
  hospitalId: string,
  input: {
    hisBillNos: string[];
    authCode: string;
    channel: CreateOrderRequest['channel'];
    terminalIp?: string;
  },
): Promise<OrderView> {
  const rows = await deps.db
    .select({ id: bills.id, patientId: bills.patientId, hisBillNo: bills.hisBillNo })
    .from(bills)
    .where(and(eq(bills.hospitalId, hospitalId), inArray(bills.hisBillNo, input.hisBillNos)));
  const missing = input.hisBillNos.find((no) => !rows.some((r) => r.hisBillNo === no));
  if (missing) throw notFound(`bill ${missing}`);
  const patients = new Set(rows.map((r) => r.patientId));
  if (patients.size !== 1)
    throw new AppError('bad_request', 'the bills of one payment must belong to one patient');
  return createOrder(
    deps,
    { patientId: rows[0]!.patientId, hospitalId },
    { billIds: rows.map((r) => r.id), channel: input.channel, tradeType: 'MICROPAY' },
    { authCode: input.authCode, clientIp: input.terminalIp },
  );
}

/** An order of the hospital, by order number, as its HIS sees it. */
export async function getOrderForHis(deps: Deps, hospitalId: string, orderNo: string): Promise<OrderView> {
  const [order] = await deps.db
    .select()
    .from(orders)
    .where(and(eq(orders.orderNo, orderNo), eq(orders.hospitalId, hospitalId)));
  if (!order) throw notFound('order');
  const [billIds, payment] = await Promise.all([
    billIdsOfOrder(deps.db, order.id),
    findPaymentByOrder(deps.db, order.id),
  ]);
  return toOrderView(order, billIds, payment);
}
