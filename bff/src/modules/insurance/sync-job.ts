import { eq, sql } from 'drizzle-orm';
import { insuranceAuthorizations, insuranceSettlements } from '../../db/schema';
import type { Deps } from '../../deps';
import { findOrder } from '../orders/repo';
import { raiseAlert } from '../payments/service';
import { enqueueSync } from './cash';
import { findSettlement, openAuth } from './repo';
import { applySettlement, closeQuoteLocally, revokeQuote } from './service';

export interface InsuranceSyncJob {
  orderId: string;
  attempt: number;
}

/** Waits between queries of a settlement not yet final, seconds (the last repeats). */
const BACKOFF_SECONDS = [5, 10, 20, 30, 60, 120, 300, 600];
/** Runs after which an unresolved settlement raises an alert (about an hour on the curve above). */
const ALERT_AFTER_ATTEMPTS = 14;

/**
 * Follows an order's insurance part until it is final — the compensation of issue 5:
 * - QUOTED and the order expired (the patient never confirmed): revoke the upload (6401), close the order.
 * - SETTLING (settle call unanswered, notification lost, the patient still in WeChat's sheet): ask the settling
 *   party (6301 / the mixed-order query) and apply the answer exactly as a notification would be applied.
 * - CLOSING (the order ended before the insurance part was known): ask; settled → reversed, else revoke.
 * Never guesses: an unknown answer is asked again on a backoff, and after about an hour staff are alerted.
 */
export async function runInsuranceSync(deps: Deps, job: InsuranceSyncJob): Promise<void> {
  const s = await findSettlement(deps.db, job.orderId);
  const order = await findOrder(deps.db, job.orderId);
  if (!s || !order) return;
  const now = deps.clock.now();
  const again = async (why: string) => {
    const n = s.syncAttempts + 1;
    await deps.db
      .update(insuranceSettlements)
      .set({ syncAttempts: n, updatedAt: sql`now()` })
      .where(eq(insuranceSettlements.id, s.id));
    if (n === ALERT_AFTER_ATTEMPTS) {
      await raiseAlert(deps.db, {
        hospitalId: s.hospitalId,
        kind: 'insurance_unresolved',
        severity: 'critical',
        orderId: order.id,
        message: `医保订单 ${order.orderNo} 的医保结算状态长时间未明（${s.status}）：${why}`,
        data: { settlementId: s.id },
      });
    }
    await enqueueSync(
      deps,
      undefined,
      order.id,
      BACKOFF_SECONDS[Math.min(job.attempt, BACKOFF_SECONDS.length - 1)]!,
      job.attempt + 1,
    );
  };

  switch (s.status) {
    case 'QUOTING':
    case 'QUOTED': {
      if (order.status !== 'CREATED') return;
      if (now < order.expiresAt) {
        await enqueueSync(
          deps,
          undefined,
          order.id,
          Math.ceil((order.expiresAt.getTime() - now.getTime()) / 1000) + 1,
        );
        return;
      }
      if (!(await revokeQuote(deps, order.id, 'quote expired'))) {
        // The bills are not held hostage by the platform: closed now, the withdrawal asked for again later.
        await closeQuoteLocally(deps, order.id, 'quote expired');
      }
      return;
    }
    case 'SETTLING':
    case 'CLOSING': {
      const settler = await deps.channels.insurance(s.settleAccountId);
      const [auth] = await deps.db
        .select()
        .from(insuranceAuthorizations)
        .where(eq(insuranceAuthorizations.id, s.authorizationId));
      const secrets = openAuth(deps, auth!.secretEnc);
      const q = await settler.settler.querySettlement(
        order.orderNo,
        s.payOrdId ?? undefined,
        secrets.payAuthNo,
      );
      const st = q.result === 'SUCCESS' ? q.settlement : undefined;
      if (st && (st.state === 'SETTLED' || st.state === 'FAILED')) {
        await applySettlement(deps, settler, st, 'query');
        return;
      }
      const abandoned = s.status === 'CLOSING' || (now >= order.expiresAt && st?.state !== undefined);
      if (abandoned && (st?.state === 'PENDING' || st?.state === 'NOT_FOUND')) {
        // Nothing was settled and the order is over (or its time is): withdraw the upload so it cannot be paid.
        if (
          await revokeQuote(
            deps,
            order.id,
            s.status === 'CLOSING' ? 'order ended before settlement' : 'settlement expired',
          )
        )
          return;
      }
      await again(q.errorMessage ?? q.errorCode ?? st?.rawState ?? q.result);
      return;
    }
    default:
      return; // final, or in the hands of the refund job
  }
}
