import type { RefundView } from '@hp/shared';
import { and, eq, sql } from 'drizzle-orm';
import {
  insuranceAuthorizations,
  insuranceRefunds,
  insuranceSettlements,
  orders,
  payments,
  refunds,
} from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { AppError, conflict, notFound } from '../../lib/errors';
import { newId, newOrderNo } from '../../lib/ids';
import { recordMessage, yuanText } from '../messages/service';
import { lockOrderById, recordEvent, transition } from '../orders/repo';
import { enqueueHisPush, raiseAlert } from '../payments/service';
import { abortEvent, requestRefund, type RefundRequest } from '../refunds/service';
import { REPAIR_ACTOR } from './cash';
import { insuranceFen, lockSettlement, openAuth } from './repo';

type InsuranceRefundRow = typeof insuranceRefunds.$inferSelect;

/** Tries of one insurance refund (6203) before a person is asked to look. */
const MAX_TRIES = 8;
/** Tries to start the cash half of an ALL refund (another refund in flight…) before a person is asked. */
const MAX_CASH_HALF_TRIES = 30;
/** Waits between tries, seconds (the last repeats). */
const RETRY_SECONDS = [10, 30, 60, 300, 900, 1800, 3600];

export function toInsuranceRefundView(r: InsuranceRefundRow, orderNo: string): RefundView {
  return {
    id: r.id,
    refundNo: r.refundNo,
    hisRefundNo: r.hisRefundNo,
    orderNo,
    amountFen: r.fundFen + r.psnAcctFen + r.otherFen + r.cashFen,
    status: r.status as RefundView['status'],
    method: 'CHANNEL',
    reason: r.reason,
    succeededAt: r.succeededAt?.toISOString() ?? null,
    createdAt: r.createdAt.toISOString(),
    insurance: { fundFen: r.fundFen, psnAcctFen: r.psnAcctFen, otherFen: r.otherFen, cashFen: r.cashFen },
  };
}

/** The cash part of an order still refundable: paid, less what was refunded (or is being refunded) of it. */
async function cashLeft(
  deps: Pick<Deps, 'db'>,
  orderId: string,
): Promise<{ paymentId?: string; left: number }> {
  const [payment] = await deps.db
    .select()
    .from(payments)
    .where(and(eq(payments.orderId, orderId), eq(payments.status, 'SUCCESS')));
  if (!payment) return { left: 0 };
  const [r] = await deps.db
    .select({ fen: sql<number>`coalesce(sum(${refunds.amountFen}), 0)::bigint` })
    .from(refunds)
    .where(
      and(eq(refunds.paymentId, payment.id), sql`${refunds.status} IN ('SUCCESS', 'PENDING', 'PROCESSING')`),
    );
  return { paymentId: payment.id, left: payment.amountFen - Number(r?.fen ?? 0) };
}

/**
 * A refund of an order with an insurance part. CASH: an ordinary refund of the cash part (any amount of it).
 * INSURANCE: the insurance part, whole (6203). ALL: the insurance part, then — when it succeeded — the cash
 * remainder as an ordinary refund numbered `<hisRefundNo>/C`. The same hisRefundNo returns the same refund.
 */
export async function requestInsuranceRefund(
  deps: Deps,
  req: RefundRequest & { part: 'ALL' | 'INSURANCE' | 'CASH' },
): Promise<RefundView> {
  if (req.part === 'CASH') return requestRefund(deps, req);
  const prepared = await deps.db.transaction(async (tx) => {
    const [found] = await tx
      .select()
      .from(orders)
      .where(and(eq(orders.orderNo, req.orderNo), eq(orders.hospitalId, req.hospitalId)))
      .for('update');
    if (!found) throw notFound('order');
    if (req.hisRefundNo) {
      const [existing] = await tx
        .select()
        .from(insuranceRefunds)
        .where(
          and(
            eq(insuranceRefunds.hospitalId, req.hospitalId),
            eq(insuranceRefunds.hisRefundNo, req.hisRefundNo),
          ),
        );
      if (existing) {
        if (existing.orderId !== found.id)
          throw conflict(`hisRefundNo ${req.hisRefundNo} was already used for another refund`);
        return { replay: existing };
      }
    }
    const s = await lockSettlement(tx, found.id);
    if (!s) throw new AppError('bad_request', 'the order has no insurance part: leave out `part`');
    if (found.status === 'REFUNDING')
      throw new AppError(
        'refund_in_progress',
        'a refund of this order is in progress; try again when it ends',
      );
    if (
      !['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'].includes(found.status) ||
      !['SETTLED', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(s.status)
    )
      throw new AppError('order_not_refundable', `order is ${found.status.toLowerCase()}`);
    const ins = insuranceFen(s).left;
    const cash = req.part === 'ALL' ? (await cashLeft({ db: tx }, found.id)).left : 0;
    if (ins === 0) {
      if (req.part === 'ALL' && cash > 0) return { cashOnly: cash };
      throw new AppError('refund_exceeds_paid', 'the insurance part was already refunded');
    }
    if (req.amountFen !== undefined && req.amountFen !== ins + cash)
      throw new AppError(
        'bad_request',
        `the insurance part is refunded whole: amountFen must be ${ins + cash} (insurance ${ins}${cash ? ` + cash ${cash}` : ''}) or left out`,
      );
    const now = deps.clock.now();
    const [row] = await tx
      .insert(insuranceRefunds)
      .values({
        id: newId('irf', now.getTime()),
        refundNo: newOrderNo(now, 'I'),
        hospitalId: found.hospitalId,
        orderId: found.id,
        settlementId: s.id,
        kind: req.part === 'ALL' ? 'ALL' : 'HI',
        fundFen: s.fundFen - s.refundedFundFen,
        psnAcctFen: s.psnAcctFen - s.refundedPsnAcctFen,
        otherFen: s.otherFen - s.refundedOtherFen,
        cashFen: cash,
        reason: req.reason,
        requestedBy: req.requestedBy,
        hisRefundNo: req.hisRefundNo ?? null,
      })
      .returning();
    const started = await transition(tx, found.id, 'refund_start', {
      actor: req.requestedBy,
      reason: req.reason,
      data: { insuranceRefundId: row!.id, insuranceFen: ins, cashFen: cash },
    });
    if (!started) throw new AppError('refund_in_progress', 'the order changed meanwhile; try again');
    // The safety net: if this process dies after the commit, the job carries the refund out.
    await deps.jobs.send(
      QUEUES.insuranceRefund,
      { refundId: row!.id, attempt: 0 },
      { startAfterSeconds: 30 },
      tx,
    );
    return { row: row! };
  });
  if ('cashOnly' in prepared) return requestRefund(deps, { ...req, amountFen: prepared.cashOnly });
  if ('replay' in prepared) return toInsuranceRefundView(prepared.replay!, req.orderNo);
  await runInsuranceRefund(deps, { refundId: prepared.row.id, attempt: 0 }, { inline: true });
  const [latest] = await deps.db
    .select()
    .from(insuranceRefunds)
    .where(eq(insuranceRefunds.id, prepared.row.id));
  return toInsuranceRefundView(latest!, req.orderNo);
}

export interface InsuranceRefundJob {
  refundId: string;
  attempt: number;
}

async function retryLater(deps: Deps, row: InsuranceRefundRow, job: InsuranceRefundJob, why: string) {
  const tries = row.attempts + 1;
  await deps.db
    .update(insuranceRefunds)
    .set({ attempts: tries, errorMessage: why.slice(0, 300), updatedAt: sql`now()` })
    .where(eq(insuranceRefunds.id, row.id));
  if (tries === MAX_TRIES) {
    await raiseAlert(deps.db, {
      hospitalId: row.hospitalId,
      kind: 'insurance_refund_stuck',
      severity: 'critical',
      orderId: row.orderId,
      message: `医保退款 ${row.refundNo}（${row.fundFen + row.psnAcctFen + row.otherFen} 分）${MAX_TRIES} 次仍未完成：${why}`,
      data: { insuranceRefundId: row.id, repair: row.repair },
    });
  }
  const wait = RETRY_SECONDS[Math.min(job.attempt, RETRY_SECONDS.length - 1)]!;
  await deps.jobs.send(
    QUEUES.insuranceRefund,
    { refundId: row.id, attempt: job.attempt + 1 },
    { startAfterSeconds: wait },
  );
}

/** The cash half of an ALL refund, once its insurance half succeeded: an ordinary refund, idempotent by number. */
async function startCashHalf(deps: Deps, row: InsuranceRefundRow, job: InsuranceRefundJob) {
  const [order] = await deps.db.select().from(orders).where(eq(orders.id, row.orderId));
  try {
    const cash = await requestRefund(deps, {
      hospitalId: row.hospitalId,
      orderNo: order!.orderNo,
      amountFen: row.cashFen,
      reason: row.reason,
      hisRefundNo: `${row.hisRefundNo ?? row.refundNo}/C`,
      requestedBy: row.requestedBy,
    });
    await deps.db
      .update(insuranceRefunds)
      .set({ cashRefundId: cash.id, updatedAt: sql`now()` })
      .where(eq(insuranceRefunds.id, row.id));
  } catch (e) {
    if (job.attempt >= MAX_CASH_HALF_TRIES) {
      // A lasting refusal (the cash was refunded another way, say): a person decides.
      await raiseAlert(deps.db, {
        hospitalId: row.hospitalId,
        kind: 'insurance_refund_stuck',
        severity: 'critical',
        orderId: row.orderId,
        message:
          `医保全额退款 ${row.refundNo} 的现金部分（${row.cashFen} 分）未能发起：${(e as Error).message}`.slice(
            0,
            500,
          ),
        data: { insuranceRefundId: row.id },
      });
      return;
    }
    // E.g. another refund in flight: try again shortly.
    await deps.jobs.send(
      QUEUES.insuranceRefund,
      { refundId: row.id, attempt: job.attempt + 1 },
      { startAfterSeconds: RETRY_SECONDS[0]! },
    );
    deps.log.warn(
      { insuranceRefundId: row.id, err: (e as Error).message },
      'cash half of an insurance refund deferred',
    );
  }
}

/**
 * Carries out one insurance refund: 6203 at the national platform (for WeChat's mixed orders, then the refund
 * notice to WeChat), then records it — a repair ends the settlement REVERSED; a refund after payment counts
 * toward the order's refunded sum, moves the order and is pushed to the HIS with its parts. Retried until
 * final; a refusal of a refund the patient asked for puts the order back; anything stuck alerts.
 */
export async function runInsuranceRefund(
  deps: Deps,
  job: InsuranceRefundJob,
  opts: { inline?: boolean } = {},
): Promise<void> {
  const [row] = await deps.db.select().from(insuranceRefunds).where(eq(insuranceRefunds.id, job.refundId));
  if (!row) return;
  if (row.status === 'SUCCESS') {
    if (row.kind === 'ALL' && row.cashFen > 0 && !row.cashRefundId) await startCashHalf(deps, row, job);
    return;
  }
  if (row.status !== 'PENDING') return;
  const [s] = await deps.db
    .select()
    .from(insuranceSettlements)
    .where(eq(insuranceSettlements.id, row.settlementId));
  const [order] = await deps.db.select().from(orders).where(eq(orders.id, row.orderId));
  const [auth] = await deps.db
    .select()
    .from(insuranceAuthorizations)
    .where(eq(insuranceAuthorizations.id, s!.authorizationId));
  const secrets = openAuth(deps, auth!.secretEnc);
  const nhsa = await deps.channels.insurance(s!.platformAccountId);
  const res = await nhsa.settler.refund({
    orderNo: order!.orderNo,
    refundNo: row.refundNo,
    payOrdId: s!.payOrdId!,
    payAuthNo: secrets.payAuthNo,
    settlementId: s!.settlementId ?? undefined,
    mixTradeNo: s!.mixTradeNo ?? undefined,
    kind: 'HI',
    fundFen: row.fundFen,
    psnAcctFen: row.psnAcctFen,
    otherFen: row.otherFen,
    cashFen: 0,
    reason: row.reason,
    requestedAt: row.createdAt,
  });
  if (res.result === 'SUCCESS' && res.state === 'SUCCESS') {
    const done = await recordInsuranceRefunded(deps, row, res.refundId);
    if (!done) return;
    if (s!.settleChannel === 'wxmedins') {
      const medins = await deps.channels.insurance(s!.settleAccountId);
      const notice = await medins.settler.refund({
        orderNo: order!.orderNo,
        refundNo: row.refundNo,
        payOrdId: s!.payOrdId!,
        mixTradeNo: s!.mixTradeNo ?? undefined,
        kind: 'HI',
        fundFen: row.fundFen,
        psnAcctFen: row.psnAcctFen,
        otherFen: row.otherFen,
        cashFen: 0,
        reason: row.reason,
        requestedAt: row.createdAt,
      });
      if (notice.result !== 'SUCCESS')
        deps.log.warn(
          { insuranceRefundId: row.id, code: notice.errorCode },
          'WeChat insurance refund notice not accepted',
        );
    }
    if (row.kind === 'ALL' && row.cashFen > 0) {
      const [fresh] = await deps.db.select().from(insuranceRefunds).where(eq(insuranceRefunds.id, row.id));
      await startCashHalf(deps, fresh!, job);
    }
    return;
  }
  const refused = res.result === 'FAIL' || (res.result === 'SUCCESS' && res.state === 'FAILED');
  if (refused && !row.repair) {
    await deps.db.transaction(async (tx) => {
      const moved = await tx
        .update(insuranceRefunds)
        .set({
          status: 'FAILED',
          errorCode: res.errorCode ?? 'FAILED',
          errorMessage: (res.errorMessage ?? '').slice(0, 300),
          updatedAt: sql`now()`,
        })
        .where(and(eq(insuranceRefunds.id, row.id), eq(insuranceRefunds.status, 'PENDING')))
        .returning({ id: insuranceRefunds.id });
      if (!moved.length) return;
      const o = (await lockOrderById(tx, row.orderId))!;
      await transition(tx, o.id, abortEvent(o), {
        actor: `insurance:nhsa:${opts.inline ? 'refund_call' : 'job'}`,
        reason:
          `insurance refund ${row.refundNo} refused: ${res.errorCode ?? ''} ${res.errorMessage ?? ''}`.trim(),
        data: { insuranceRefundId: row.id },
      });
      await raiseAlert(tx, {
        hospitalId: row.hospitalId,
        kind: 'insurance_refund_failed',
        severity: 'warning',
        orderId: row.orderId,
        message: `医保退款 ${row.refundNo} 被医保平台拒绝：${res.errorMessage ?? res.errorCode ?? ''}`,
        data: { insuranceRefundId: row.id },
      });
    });
    return;
  }
  // Unknown, still processing, or a repair the platform refused for now: ask again later (the platform
  // answers a repeated appRefdSn with the same refund).
  await retryLater(
    deps,
    row,
    job,
    `${res.result} ${res.state ?? ''} ${res.errorCode ?? ''} ${res.errorMessage ?? ''}`.trim(),
  );
}

/** Records an insurance refund the platform carried out, exactly once (conditional on PENDING). */
async function recordInsuranceRefunded(deps: Deps, row: InsuranceRefundRow, platformRefundId?: string) {
  return deps.db.transaction(async (tx) => {
    const now = deps.clock.now();
    const moved = await tx
      .update(insuranceRefunds)
      .set({
        status: 'SUCCESS',
        platformRefundId: platformRefundId ?? null,
        succeededAt: now,
        updatedAt: sql`now()`,
      })
      .where(and(eq(insuranceRefunds.id, row.id), eq(insuranceRefunds.status, 'PENDING')))
      .returning({ id: insuranceRefunds.id });
    if (!moved.length) return false;
    const order = (await lockOrderById(tx, row.orderId))!;
    const s = (await lockSettlement(tx, order.id))!;
    const insFen = row.fundFen + row.psnAcctFen + row.otherFen;
    const refundedAll = insuranceFen(s).left === insFen;
    await tx
      .update(insuranceSettlements)
      .set({
        refundedFundFen: sql`${insuranceSettlements.refundedFundFen} + ${row.fundFen}`,
        refundedPsnAcctFen: sql`${insuranceSettlements.refundedPsnAcctFen} + ${row.psnAcctFen}`,
        refundedOtherFen: sql`${insuranceSettlements.refundedOtherFen} + ${row.otherFen}`,
        status: row.repair ? 'REVERSED' : refundedAll ? 'REFUNDED' : 'PARTIALLY_REFUNDED',
        updatedAt: sql`now()`,
      })
      .where(eq(insuranceSettlements.id, s.id));
    if (row.repair || row.requestedBy === REPAIR_ACTOR) {
      await recordEvent(tx, order, 'insurance_reversed', {
        actor: 'insurance:nhsa',
        reason: row.repair ?? undefined,
        data: { insuranceRefundId: row.id, fen: insFen },
      });
      return true;
    }
    const [u] = await tx
      .update(orders)
      .set({ refundedFen: sql`${orders.refundedFen} + ${insFen}`, updatedAt: sql`now()` })
      .where(eq(orders.id, order.id))
      .returning({ refundedFen: orders.refundedFen, amountFen: orders.amountFen });
    await transition(tx, order.id, u!.refundedFen >= u!.amountFen ? 'refunded' : 'partially_refunded', {
      actor: 'insurance:nhsa',
      data: { insuranceRefundId: row.id, insuranceFen: insFen, refundedFen: u!.refundedFen },
    });
    await recordMessage(deps, tx, {
      hospitalId: order.hospitalId,
      patientId: order.patientId,
      kind: 'refund_done',
      title: '医保退款成功',
      body: `订单 ${order.orderNo} 的医保支付 ${yuanText(insFen)} 元已退回医保（统筹 ${yuanText(row.fundFen)} 元，个人账户 ${yuanText(row.psnAcctFen)} 元）。`,
      amountFen: insFen,
      refs: { orderId: order.id, insuranceRefundId: row.id },
    });
    await enqueueHisPush(deps, tx, order, { kind: 'insurance_refund', refundId: row.id });
    return true;
  });
}

/** A refund of an order's insurance part, by the HIS's refund number (or undefined). */
export async function findInsuranceRefundForHis(deps: Deps, hospitalId: string, hisRefundNo: string) {
  const [row] = await deps.db
    .select({ r: insuranceRefunds, orderNo: orders.orderNo })
    .from(insuranceRefunds)
    .innerJoin(orders, eq(orders.id, insuranceRefunds.orderId))
    .where(and(eq(insuranceRefunds.hospitalId, hospitalId), eq(insuranceRefunds.hisRefundNo, hisRefundNo)));
  return row ? toInsuranceRefundView(row.r, row.orderNo) : undefined;
}

export interface CashRepairJob {
  refundId: string;
  attempt: number;
}
