import { and, desc, eq, inArray, isNull, sql, TransactionRollbackError } from 'drizzle-orm';
import { BankCreditChannel } from '../../channels/credit/adapter';
import type { ResolvedAccount } from '../../channels/registry';
import type { Tx } from '../../db/client';
import {
  bills,
  creditAgreements,
  creditDebits,
  creditFamilyMembers,
  orderBills,
  orderEvents,
  orders,
  patientCards,
  patients,
  payments,
} from '../../db/schema';
import type { Deps } from '../../deps';
import { QUEUES } from '../../jobs/queue';
import { AppError, notFound } from '../../lib/errors';
import { newId, newOrderNo } from '../../lib/ids';
import { findOrder, releaseBills, transition } from '../orders/repo';
import { queryDelaySeconds, type PatientPrincipal } from '../orders/service';
import { applyChannelPayment } from '../payments/service';
import { recordMessage, yuanText, type MessageDeps } from '../messages/service';

type AgreementRow = typeof creditAgreements.$inferSelect;
type DebitRow = typeof creditDebits.$inferSelect;

/** How long a debit order may stay open before the bank's "no such order" is believed. */
const DEBIT_NOT_FOUND_GRACE_MS = 60_000;
/** A debit order's lifetime (the bank answers within seconds; this bounds the bill's hold). */
const DEBIT_ORDER_MINUTES = 30;

/** The hospital's credit account and its adapter. */
async function creditAccount(deps: Deps, hospitalId: string) {
  const account = await deps.channels.forHospital(hospitalId, 'credit');
  if (!(account.adapter instanceof BankCreditChannel))
    throw new AppError('internal_error', `account ${account.id} is not a credit-pay account`);
  return { account, adapter: account.adapter };
}

async function latestAgreement(deps: Deps, patientId: string): Promise<AgreementRow | undefined> {
  const [row] = await deps.db
    .select()
    .from(creditAgreements)
    .where(eq(creditAgreements.patientId, patientId))
    .orderBy(desc(creditAgreements.createdAt))
    .limit(1);
  return row;
}

/**
 * Starts signing: records the intent (SIGNING) and asks the bank for its signing page, which sends the
 * patient back to `returnUrl`.
 */
export async function startSigning(
  deps: Deps,
  who: PatientPrincipal,
  input: { returnUrl: string; autoPay?: boolean },
): Promise<{ signRequestNo: string; pageUrl: string }> {
  const { account, adapter } = await creditAccount(deps, who.hospitalId);
  const current = await latestAgreement(deps, who.patientId);
  if (current?.status === 'SIGNED') throw new AppError('conflict', 'credit pay is already signed');
  const signRequestNo = newOrderNo(deps.clock.now()).replace(/^/, 'S');
  const id = newId('cag');
  await deps.db.insert(creditAgreements).values({
    id,
    hospitalId: who.hospitalId,
    patientId: who.patientId,
    merchantAccountId: account.id,
    signRequestNo,
    status: 'SIGNING',
    autoPay: input.autoPay ?? true,
    returnUrl: input.returnUrl,
  });
  const res = await adapter.signStart({ signRequestNo, userRef: who.patientId, returnUrl: input.returnUrl });
  if (res.result !== 'SUCCESS' || !res.pageUrl) {
    await deps.db
      .update(creditAgreements)
      .set({ status: 'FAILED', updatedAt: sql`now()` })
      .where(and(eq(creditAgreements.id, id), eq(creditAgreements.status, 'SIGNING')));
    throw new AppError(
      res.result === 'FAIL' ? 'channel_error' : 'channel_unavailable',
      `the bank did not open a signing page (${res.errorCode ?? 'no answer'})`,
    );
  }
  return { signRequestNo, pageUrl: res.pageUrl };
}

export interface CreditStatus {
  status: 'SIGNED' | 'SIGNING' | 'UNSIGNED' | 'NOT_SIGNED' | 'FAILED';
  agreementNo: string | null;
  limitFen: number;
  availableFen: number;
  autoPay: boolean;
  signedAt: string | null;
  family: { id: string; patientId: string; name: string; relation: string }[];
}

/**
 * Asks the bank for the patient's agreement (before every use) and brings ours in line: SIGNED with its
 * number, limit and available amount; a signing the bank no longer has as signed ends UNSIGNED.
 */
async function syncAgreement(
  deps: Deps,
  hospitalId: string,
  patientId: string,
): Promise<{ row?: AgreementRow; available: number; bankStatus: CreditStatus['status'] }> {
  const { adapter } = await creditAccount(deps, hospitalId);
  const q = await adapter.signStatus({ userRef: patientId });
  if (q.result !== 'SUCCESS' || !q.status)
    throw new AppError('channel_unavailable', 'the bank did not answer the sign-status query; try again');
  const row = await latestAgreement(deps, patientId);
  if (!row) return { available: 0, bankStatus: q.status === 'SIGNED' ? 'SIGNED' : 'NOT_SIGNED' };
  const now = deps.clock.now();
  const patch =
    q.status === 'SIGNED'
      ? {
          status: 'SIGNED',
          agreementNo: q.agreementNo ?? row.agreementNo,
          limitFen: q.limitFen ?? 0,
          availableFen: q.availableFen ?? 0,
          signedAt: row.signedAt ?? q.signedAt ?? now,
        }
      : row.status === 'SIGNED'
        ? { status: 'UNSIGNED', unsignedAt: now, availableFen: 0 }
        : row.status === 'SIGNING' && q.status === 'FAILED'
          ? { status: 'FAILED' }
          : {};
  // Conditional on the status read: of two syncs racing, the one that read a stale status changes nothing,
  // and what the other wrote stands.
  const [updated] = await deps.db
    .update(creditAgreements)
    .set({ ...patch, statusCheckedAt: now, updatedAt: sql`now()` })
    .where(and(eq(creditAgreements.id, row.id), eq(creditAgreements.status, row.status)))
    .returning();
  const current =
    updated ?? (await deps.db.select().from(creditAgreements).where(eq(creditAgreements.id, row.id)))[0];
  return { row: current, available: q.availableFen ?? 0, bankStatus: q.status };
}

/** The patient's credit-pay status (queried at the bank), limit, available amount and family members. */
export async function creditStatus(deps: Deps, who: PatientPrincipal): Promise<CreditStatus> {
  const { row, bankStatus } = await syncAgreement(deps, who.hospitalId, who.patientId);
  const family = row
    ? await deps.db
        .select({
          id: creditFamilyMembers.id,
          patientId: creditFamilyMembers.relativePatientId,
          name: patients.name,
          relation: creditFamilyMembers.relation,
        })
        .from(creditFamilyMembers)
        .innerJoin(patients, eq(patients.id, creditFamilyMembers.relativePatientId))
        .where(and(eq(creditFamilyMembers.agreementId, row.id), eq(creditFamilyMembers.status, 'ACTIVE')))
    : [];
  const status = (row?.status as CreditStatus['status'] | undefined) ?? bankStatus;
  return {
    status,
    agreementNo: row?.agreementNo ?? null,
    limitFen: status === 'SIGNED' ? (row?.limitFen ?? 0) : 0,
    availableFen: status === 'SIGNED' ? (row?.availableFen ?? 0) : 0,
    autoPay: row?.autoPay ?? false,
    signedAt: row?.signedAt?.toISOString() ?? null,
    family: family.map((f) => ({ ...f, name: maskName(f.name) })),
  };
}

function maskName(name: string): string {
  return name.length <= 1 ? name : `${name[0]}${'*'.repeat(Math.min(name.length - 1, 3))}`;
}

/** Ends the agreement at the bank, then here; family authorisations end with it. */
export async function unsign(deps: Deps, who: PatientPrincipal): Promise<CreditStatus> {
  const row = await latestAgreement(deps, who.patientId);
  if (row?.status !== 'SIGNED' || !row.agreementNo)
    throw new AppError('conflict', 'credit pay is not signed');
  const { adapter } = await creditAccount(deps, who.hospitalId);
  const res = await adapter.unsign(row.agreementNo);
  if (res.result !== 'SUCCESS')
    throw new AppError(
      res.result === 'FAIL' ? 'channel_error' : 'channel_unavailable',
      `the bank did not end the agreement (${res.errorCode ?? 'no answer'})`,
    );
  await deps.db.transaction(async (tx) => {
    await tx
      .update(creditAgreements)
      .set({ status: 'UNSIGNED', unsignedAt: deps.clock.now(), availableFen: 0, updatedAt: sql`now()` })
      .where(and(eq(creditAgreements.id, row.id), eq(creditAgreements.status, 'SIGNED')));
    await tx
      .update(creditFamilyMembers)
      .set({ status: 'REVOKED', revokedAt: deps.clock.now() })
      .where(and(eq(creditFamilyMembers.agreementId, row.id), eq(creditFamilyMembers.status, 'ACTIVE')));
  });
  return creditStatus(deps, who);
}

/**
 * Lets a relative's bills be debited on the signer's agreement (family pay). The relative must be a card
 * bound to the signer's account (POST /api/patient/cards) at the same hospital.
 */
export async function addFamilyMember(
  deps: Deps,
  who: PatientPrincipal,
  input: { patientId: string; relation: string },
) {
  if (input.patientId === who.patientId)
    throw new AppError('bad_request', 'the signer pays their own bills already');
  const row = await latestAgreement(deps, who.patientId);
  if (row?.status !== 'SIGNED') throw new AppError('conflict', 'credit pay is not signed');
  const [card] = who.accountId
    ? await deps.db
        .select({ id: patientCards.id })
        .from(patientCards)
        .where(
          and(
            eq(patientCards.accountId, who.accountId),
            eq(patientCards.patientId, input.patientId),
            eq(patientCards.hospitalId, who.hospitalId),
          ),
        )
    : [];
  if (!card) throw notFound('bound card of that patient');
  const id = newId('cfm');
  const inserted = await deps.db
    .insert(creditFamilyMembers)
    .values({
      id,
      hospitalId: who.hospitalId,
      agreementId: row.id,
      signerPatientId: who.patientId,
      relativePatientId: input.patientId,
      relation: input.relation,
    })
    .onConflictDoNothing()
    .returning({ id: creditFamilyMembers.id });
  if (!inserted.length) throw new AppError('conflict', 'that relative is already authorised');
  return { id, patientId: input.patientId, relation: input.relation };
}

export async function removeFamilyMember(deps: Deps, who: PatientPrincipal, id: string) {
  const done = await deps.db
    .update(creditFamilyMembers)
    .set({ status: 'REVOKED', revokedAt: deps.clock.now() })
    .where(
      and(
        eq(creditFamilyMembers.id, id),
        eq(creditFamilyMembers.signerPatientId, who.patientId),
        eq(creditFamilyMembers.status, 'ACTIVE'),
      ),
    )
    .returning({ id: creditFamilyMembers.id });
  if (!done.length) throw notFound('family member');
}

// ---- outpatient password-free debit (无感支付) --------------------------------------------------------

export interface CreditDebitJob {
  billId: string;
  version: number;
}

export interface CreditDebitCheckJob {
  debitId: string;
  attempt: number;
}

/**
 * Called in the transaction that stores a pushed bill (new or a new version): tells the patient a bill is
 * waiting and, when the patient (or a signer who authorised them) has credit pay with auto-pay on, enqueues
 * the debit job with it.
 */
export async function onBillStored(
  deps: Deps,
  tx: Tx,
  bill: {
    id: string;
    hospitalId: string;
    patientId: string;
    version: number;
    title: string;
    amountFen: number;
  },
) {
  await recordMessage(deps, tx, {
    hospitalId: bill.hospitalId,
    patientId: bill.patientId,
    kind: 'bill_waiting',
    title: '待缴费',
    body: `${bill.title} ${yuanText(bill.amountFen)} 元待缴费。`,
    amountFen: bill.amountFen,
    refs: { billId: bill.id },
  });
  const payer = await payerFor(tx, bill.patientId);
  if (payer)
    await deps.jobs.send(
      QUEUES.creditDebit,
      { billId: bill.id, version: bill.version } satisfies CreditDebitJob,
      { retryLimit: 5, retryDelaySeconds: 5, retryBackoff: true },
      tx,
    );
}

/** The agreement that pays a patient's bills: their own (auto-pay on), else one that authorised them. */
async function payerFor(tx: Tx, patientId: string): Promise<AgreementRow | undefined> {
  const [own] = await tx
    .select()
    .from(creditAgreements)
    .where(
      and(
        eq(creditAgreements.patientId, patientId),
        eq(creditAgreements.status, 'SIGNED'),
        eq(creditAgreements.autoPay, true),
      ),
    );
  if (own) return own;
  const [viaFamily] = await tx
    .select({ a: creditAgreements })
    .from(creditFamilyMembers)
    .innerJoin(creditAgreements, eq(creditAgreements.id, creditFamilyMembers.agreementId))
    .where(
      and(
        eq(creditFamilyMembers.relativePatientId, patientId),
        eq(creditFamilyMembers.status, 'ACTIVE'),
        eq(creditAgreements.status, 'SIGNED'),
        eq(creditAgreements.autoPay, true),
      ),
    );
  return viaFamily?.a;
}

const DEBIT_FAILURE_TEXT: Record<string, string> = {
  OVER_LIMIT: '超出信用额度',
  NOT_SIGNED: '信用就医未签约或已解约',
  DECLINED: '银行拒绝扣款',
  FAILED: '扣款未成功',
};

/** Ends a debit attempt that did not pay, with a message to the patient; the bill stays payable. */
async function endDebit(
  deps: MessageDeps,
  tx: Tx,
  debit: DebitRow,
  status: 'OVER_LIMIT' | 'NOT_SIGNED' | 'DECLINED' | 'FAILED',
  reason: string,
) {
  const done = await tx
    .update(creditDebits)
    .set({ status, reason: reason.slice(0, 300), updatedAt: sql`now()` })
    .where(and(eq(creditDebits.id, debit.id), inArray(creditDebits.status, ['PENDING', 'DEBITING'])))
    .returning({ id: creditDebits.id });
  if (!done.length) return;
  await recordMessage(deps, tx, {
    hospitalId: debit.hospitalId,
    patientId: debit.patientId,
    kind: 'credit_debit_failed',
    title: '信用就医扣款未成功',
    body: `${DEBIT_FAILURE_TEXT[status]}：${yuanText(debit.amountFen)} 元的账单请用其他方式缴费。`,
    amountFen: debit.amountFen,
    refs: { billId: debit.billId, debitId: debit.id, ...(debit.orderId ? { orderId: debit.orderId } : {}) },
  });
}

/** Fails a debit order locally (bills released for other channels) and ends the attempt with a message. */
async function failDebitOrder(
  deps: Deps,
  debit: DebitRow,
  status: 'DECLINED' | 'FAILED' | 'OVER_LIMIT',
  reason: string,
) {
  await deps.db.transaction(async (tx) => {
    if (debit.orderId) {
      const failed = await transition(tx, debit.orderId, 'fail', {
        actor: 'job:credit-debit',
        reason,
        patch: { closedAt: deps.clock.now() },
      });
      if (failed) {
        await releaseBills(tx, debit.orderId);
        await tx
          .update(payments)
          .set({ status: 'FAILED', updatedAt: sql`now()` })
          .where(and(eq(payments.orderId, debit.orderId), eq(payments.status, 'PENDING')));
      }
    }
    await endDebit(deps, tx, debit, status, reason);
  });
}

/**
 * The debit job: sign status at the bank, the amount from the bill, the limit, then an order on the credit
 * channel (intent committed with its follow-up job) and the debit call outside any transaction.
 */
export async function runCreditDebit(deps: Deps, job: CreditDebitJob): Promise<void> {
  const { db, clock } = deps;
  const [bill] = await db.select().from(bills).where(eq(bills.id, job.billId));
  if (!bill || bill.version !== job.version || bill.status !== 'UNPAID' || bill.lockedOrderId) return;
  const payer = await payerFor(db, bill.patientId);
  if (!payer) return;
  const [created] = await db
    .insert(creditDebits)
    .values({
      id: newId('cdb'),
      hospitalId: bill.hospitalId,
      billId: bill.id,
      billVersion: bill.version,
      patientId: bill.patientId,
      payerPatientId: payer.patientId,
      agreementId: payer.id,
      amountFen: bill.amountFen,
      status: 'PENDING',
    })
    .onConflictDoNothing()
    .returning();
  const [debit] = created
    ? [created]
    : await db
        .select()
        .from(creditDebits)
        .where(and(eq(creditDebits.billId, bill.id), eq(creditDebits.billVersion, bill.version)));
  if (!debit || debit.status !== 'PENDING') return; // a retry of a job that already went further

  // Before every use: the bank's word on the agreement and what is left of the limit.
  const sync = await syncAgreement(deps, bill.hospitalId, payer.patientId);
  if (sync.row?.status !== 'SIGNED' || !sync.row.agreementNo) {
    await db.transaction((tx) => endDebit(deps, tx, debit, 'NOT_SIGNED', `agreement ${sync.bankStatus}`));
    return;
  }
  if (bill.amountFen > sync.available) {
    await db.transaction((tx) =>
      endDebit(
        deps,
        tx,
        debit,
        'OVER_LIMIT',
        `${bill.amountFen} fen over the available ${sync.available} fen`,
      ),
    );
    return;
  }

  const { account, adapter } = await creditAccount(deps, bill.hospitalId);
  const now = clock.now();
  const orderId = newId('ord', now.getTime());
  const orderNo = newOrderNo(now);
  const expiresAt = new Date(now.getTime() + DEBIT_ORDER_MINUTES * 60_000);
  let opened: boolean;
  try {
    opened = await db.transaction(async (tx) => {
      const held = await tx
        .update(bills)
        .set({ lockedOrderId: orderId, updatedAt: sql`now()` })
        .where(
          and(
            eq(bills.id, bill.id),
            eq(bills.version, bill.version),
            eq(bills.status, 'UNPAID'),
            isNull(bills.lockedOrderId),
          ),
        )
        .returning({ id: bills.id });
      if (!held.length) return false; // the patient started paying it another way meanwhile
      await tx.insert(orders).values({
        id: orderId,
        orderNo,
        hospitalId: bill.hospitalId,
        patientId: bill.patientId,
        status: 'PAYING',
        amountFen: bill.amountFen,
        channel: 'credit',
        tradeType: 'CREDIT',
        merchantAccountId: account.id,
        expiresAt,
      });
      await tx
        .insert(orderBills)
        .values({ orderId, billId: bill.id, billVersion: bill.version, amountFen: bill.amountFen });
      await tx.insert(payments).values({
        id: newId('pay', now.getTime()),
        orderId,
        hospitalId: bill.hospitalId,
        channel: 'credit',
        tradeType: 'CREDIT',
        outTradeNo: orderNo,
        amountFen: bill.amountFen,
      });
      await tx.insert(orderEvents).values({
        orderId,
        hospitalId: bill.hospitalId,
        event: 'start_payment',
        fromStatus: null,
        toStatus: 'PAYING',
        actor: 'job:credit-debit',
        data: { channel: 'credit', billIds: [bill.id], amountFen: bill.amountFen, debitId: debit.id },
      });
      const [moved] = await tx
        .update(creditDebits)
        .set({ status: 'DEBITING', orderId, updatedAt: sql`now()` })
        .where(and(eq(creditDebits.id, debit.id), eq(creditDebits.status, 'PENDING')))
        .returning({ id: creditDebits.id });
      // Another run of this job got here first: undo the lock and the order, leave the debit to it.
      if (!moved) return tx.rollback();
      await deps.jobs.send(
        QUEUES.creditDebitCheck,
        { debitId: debit.id, attempt: 0 } satisfies CreditDebitCheckJob,
        { startAfterSeconds: queryDelaySeconds(deps, 0, expiresAt) },
        tx,
      );
      return true;
    });
  } catch (e) {
    if (e instanceof TransactionRollbackError) return;
    throw e;
  }
  if (!opened) {
    await db.transaction((tx) =>
      endDebit(deps, tx, debit, 'FAILED', 'the bill was taken by another payment'),
    );
    return;
  }
  const res = await adapter.debit({
    orderNo,
    agreementNo: sync.row.agreementNo,
    amountFen: bill.amountFen,
    description: bill.title,
    notifyUrl: `${deps.urls.public}/notify/credit/${account.id}`,
  });
  const current = { ...debit, orderId };
  if (res.result === 'SUCCESS' && res.payment) {
    await settleDebit(deps, account, current, res.payment);
  } else if (res.result === 'FAIL') {
    const status = res.errorCode === 'OVER_LIMIT' ? 'OVER_LIMIT' : 'DECLINED';
    await failDebitOrder(
      deps,
      current,
      status,
      `bank refused: ${res.errorCode ?? ''} ${res.errorMessage ?? ''}`,
    );
  }
  // PENDING / UNKNOWN: the notification or the check job's query decides.
}

async function settleDebit(
  deps: Deps,
  account: ResolvedAccount,
  debit: DebitRow,
  p: Parameters<typeof applyChannelPayment>[2],
) {
  await deps.db.transaction(async (tx) => {
    const outcome = await applyChannelPayment(deps, account, p, 'query', tx);
    if (outcome === 'applied' || outcome === 'duplicate')
      await tx
        .update(creditDebits)
        .set({ status: 'SUCCESS', updatedAt: sql`now()` })
        .where(and(eq(creditDebits.id, debit.id), eq(creditDebits.status, 'DEBITING')));
  });
}

const PAID_STATES = ['PAID', 'SETTLED', 'REFUNDING', 'PARTIALLY_REFUNDED', 'REFUNDED'];

/**
 * Follows one debit until final: the order's own state first (a notification may have decided), else a
 * query at the bank. A success is applied like any payment (HIS push); a failure releases the bill and tells
 * the patient.
 */
export async function runCreditDebitCheck(deps: Deps, job: CreditDebitCheckJob): Promise<void> {
  const [debit] = await deps.db.select().from(creditDebits).where(eq(creditDebits.id, job.debitId));
  if (!debit?.orderId || debit.status !== 'DEBITING') return;
  const order = await findOrder(deps.db, debit.orderId);
  if (!order) return;
  if (PAID_STATES.includes(order.status)) {
    await deps.db
      .update(creditDebits)
      .set({ status: 'SUCCESS', updatedAt: sql`now()` })
      .where(and(eq(creditDebits.id, debit.id), eq(creditDebits.status, 'DEBITING')));
    return;
  }
  if (order.status === 'FAILED' || order.status === 'CLOSED' || order.status === 'CONFLICTED') {
    await deps.db.transaction((tx) =>
      endDebit(deps, tx, debit, 'DECLINED', `order ${order.status.toLowerCase()}`),
    );
    return;
  }
  const account = await deps.channels.get(order.merchantAccountId);
  const q = await account.adapter.queryPayment(order.orderNo);
  const state = q.result === 'SUCCESS' ? q.payment?.state : undefined;
  if (state === 'PAID' || state === 'REFUNDED') return settleDebit(deps, account, debit, q.payment!);
  if (state === 'FAILED' || state === 'CLOSED')
    return failDebitOrder(deps, debit, 'DECLINED', `bank reports ${q.payment?.rawState ?? state}`);
  if (
    state === 'NOT_FOUND' &&
    deps.clock.now().getTime() - order.createdAt.getTime() > DEBIT_NOT_FOUND_GRACE_MS
  )
    return failDebitOrder(deps, debit, 'FAILED', 'the bank has no such debit');
  await deps.jobs.send(
    QUEUES.creditDebitCheck,
    { debitId: debit.id, attempt: job.attempt + 1 } satisfies CreditDebitCheckJob,
    { startAfterSeconds: queryDelaySeconds(deps, job.attempt + 1, order.expiresAt) },
  );
}

/** The patient's credit debits, newest first (what was debited automatically, and what was not). */
export async function listDebits(deps: Deps, who: PatientPrincipal) {
  const rows = await deps.db
    .select()
    .from(creditDebits)
    .where(eq(creditDebits.patientId, who.patientId))
    .orderBy(desc(creditDebits.createdAt))
    .limit(100);
  return {
    debits: rows.map((r) => ({
      id: r.id,
      billId: r.billId,
      orderId: r.orderId,
      amountFen: r.amountFen,
      status: r.status,
      createdAt: r.createdAt.toISOString(),
    })),
  };
}
