import type { CreateOrderRequest, OrderView } from '@hp/shared';
import { sumFen } from '@hp/shared';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { bills, orderBills, orderEvents, orders, payments } from '../../db/schema';
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

export function toOrderView(o: OrderRow, billIds: string[], payment?: PaymentRow): OrderView {
  return {
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

    // A new row cannot race a conditional update: it is inserted straight as PAYING, and both of its first
    // steps (created, start_payment) are recorded in one statement — fewer round trips on the hot path.
    const [order] = await tx
      .insert(orders)
      .values({
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
      })
      .returning();
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
    return { order: order!, payment: pay!, titles: rows.map((r) => r.title) };
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
  const current = async () => {
    const [o, p] = await Promise.all([findOrder(db, orderId), findPaymentByOrder(db, orderId)]);
    return toOrderView(o!, billIds, p);
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
    return toOrderView(order, billIds, { ...payment, prepay: res.prepay ?? {} });
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

/** One order as its patient sees it. */
export async function getOrderForPatient(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<OrderView> {
  const order = await findOrder(deps.db, orderId);
  if (!order || order.patientId !== who.patientId) throw notFound('order');
  const [billIds, payment] = await Promise.all([
    billIdsOfOrder(deps.db, orderId),
    findPaymentByOrder(deps.db, orderId),
  ]);
  return toOrderView(order, billIds, payment);
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
