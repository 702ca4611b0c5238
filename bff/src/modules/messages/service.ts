import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client';
import { patientMessages } from '../../db/schema';
import { notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';

/** What a message is about. */
export type MessageKind =
  | 'payment_succeeded'
  | 'refund_done'
  | 'credit_debit_failed'
  | 'bill_waiting'
  | 'credit_signed'
  /** Inpatient: a deposit (押金) paid, a settlement's refund back, its rest paid or debited. */
  | 'deposit_paid'
  | 'settlement_refunded'
  | 'settlement_debited';

export interface NewMessage {
  hospitalId: string;
  patientId: string;
  kind: MessageKind;
  title: string;
  body: string;
  refs?: { billId?: string; orderId?: string; refundId?: string; debitId?: string };
}

/** Records a message to a patient — always inside the transaction of the event it reports. */
export async function recordMessage(tx: Tx, m: NewMessage): Promise<string> {
  const id = newId('msg');
  await tx.insert(patientMessages).values({ id, ...m, refs: m.refs ?? {} });
  return id;
}

/** Fen as yuan text for a message body (string arithmetic, no floats). */
export function yuanText(fen: number): string {
  return `${Math.floor(fen / 100)}.${String(fen % 100).padStart(2, '0')}`;
}

export interface MessageView {
  id: string;
  kind: string;
  title: string;
  body: string;
  refs: Record<string, string>;
  readAt: string | null;
  createdAt: string;
}

type Row = typeof patientMessages.$inferSelect;
const view = (r: Row): MessageView => ({
  id: r.id,
  kind: r.kind,
  title: r.title,
  body: r.body,
  refs: r.refs as Record<string, string>,
  readAt: r.readAt?.toISOString() ?? null,
  createdAt: r.createdAt.toISOString(),
});

/** A patient's messages, newest first, and how many are unread. */
export async function listMessages(db: Db, patientId: string, limit = 100) {
  const rows = await db
    .select()
    .from(patientMessages)
    .where(eq(patientMessages.patientId, patientId))
    .orderBy(desc(patientMessages.createdAt))
    .limit(limit);
  const [unread] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(patientMessages)
    .where(and(eq(patientMessages.patientId, patientId), isNull(patientMessages.readAt)));
  return { messages: rows.map(view), unread: unread?.n ?? 0 };
}

/** Marks one of the patient's messages read (repeatable). */
export async function markMessageRead(db: Db, patientId: string, id: string): Promise<MessageView> {
  await db
    .update(patientMessages)
    .set({ readAt: sql`now()` })
    .where(
      and(
        eq(patientMessages.id, id),
        eq(patientMessages.patientId, patientId),
        isNull(patientMessages.readAt),
      ),
    );
  const [row] = await db
    .select()
    .from(patientMessages)
    .where(and(eq(patientMessages.id, id), eq(patientMessages.patientId, patientId)));
  if (!row) throw notFound('message');
  return view(row);
}
