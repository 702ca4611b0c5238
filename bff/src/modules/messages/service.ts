import { and, desc, eq, isNull, like, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client';
import { patientAccounts, patientCards, patientMessages } from '../../db/schema';
import { messageSends } from '../../db/schema-credit';
import type { Deps } from '../../deps';
import { QUEUES, type JobContext } from '../../jobs/queue';
import { notFound } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { maskOpenId } from '../../channels/wechat-subscribe';
import { SANDBOX_SUBSCRIBE_TEMPLATES } from '../../sandbox/wechatpay/login';
import { wechatApp } from '../patients/login';

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
  refs?: {
    billId?: string;
    orderId?: string;
    refundId?: string;
    debitId?: string;
    insuranceRefundId?: string;
  };
  /** The amount the message is about, in fen: the `amount2` of a WeChat subscription message. */
  amountFen?: number;
}

/** What recording a message needs: the config (templates, the mini-program) and the job queue. */
export type MessageDeps = Pick<Deps, 'config' | 'jobs'>;

/** The `message_sends.channel` of WeChat subscription messages. */
export const WECHAT_SUBSCRIBE_CHANNEL = 'wechat_subscribe';

/** Job data: the send and its template keywords — the openid is looked up when sending, never queued. */
export interface MessageSendJob {
  sendId: string;
  data: Record<string, string>;
}

/** Kind → WeChat template id: the configured ones, or the sandbox's demo templates. */
export function subscribeTemplates(config: Deps['config']): Record<string, string> {
  return config.wechatSubscribeTemplates ?? (config.sandbox ? SANDBOX_SUBSCRIBE_TEMPLATES : {});
}

/** The mini-program openid of a patient: from the newest WeChat account bound to them, if any. */
async function openIdOf(db: Db | Tx, appId: string, patientId: string): Promise<string | undefined> {
  const [row] = await db
    .select({ subject: patientAccounts.subject })
    .from(patientCards)
    .innerJoin(patientAccounts, eq(patientAccounts.id, patientCards.accountId))
    .where(
      and(
        eq(patientCards.patientId, patientId),
        eq(patientAccounts.provider, 'wechat'),
        like(patientAccounts.subject, `${appId}:%`),
      ),
    )
    .orderBy(desc(patientCards.createdAt))
    .limit(1);
  return row ? row.subject.slice(appId.length + 1) : undefined;
}

/**
 * Records a message to a patient — always inside the transaction of the event it reports. When the kind has
 * a WeChat subscription template and the patient logged in with the mini-program, a PENDING send and its job
 * are created in the same transaction (the job exists exactly when the message does).
 */
export async function recordMessage(deps: MessageDeps, tx: Tx, m: NewMessage): Promise<string> {
  const id = newId('msg');
  const { amountFen, ...message } = m;
  await tx.insert(patientMessages).values({ id, ...message, refs: m.refs ?? {} });
  const templateId = subscribeTemplates(deps.config)[m.kind];
  const app = wechatApp(deps.config, 'miniprogram');
  if (!templateId || !app) return id;
  if (!(await openIdOf(tx, app.appId, m.patientId))) return id;
  const sendId = newId('msd');
  await tx.insert(messageSends).values({
    id: sendId,
    messageId: id,
    hospitalId: m.hospitalId,
    channel: WECHAT_SUBSCRIBE_CHANNEL,
    status: 'PENDING',
  });
  const data: Record<string, string> = { thing1: thing(m.title) };
  if (amountFen !== undefined) data.amount2 = subscribeAmount(amountFen);
  data.time3 = beijingMinute(new Date());
  await deps.jobs.send<MessageSendJob>(
    QUEUES.messageSend,
    { sendId, data },
    { retryLimit: 5, retryDelaySeconds: deps.config.hisPushRetryDelaySeconds, retryBackoff: true },
    tx,
  );
  return id;
}

/** Fen as a WeChat `amount` keyword: `12.34元` (string arithmetic, no floats). */
export function subscribeAmount(fen: number): string {
  return `${yuanText(fen)}元`;
}

/** An instant as Beijing wall time, `YYYY-MM-DD HH:mm`, for a WeChat `time` keyword. */
function beijingMinute(at: Date): string {
  return new Date(at.getTime() + 8 * 3_600_000).toISOString().slice(0, 16).replace('T', ' ');
}

/** A `thing` keyword: at most 20 characters. */
const thing = (s: string) => [...s].slice(0, 20).join('');

/**
 * The message-send job: sends one WeChat subscription message and records the outcome — SENT, SKIPPED (the
 * patient has not subscribed: never retried) or FAILED; while WeChat is busy the send stays PENDING and the job
 * throws so pg-boss retries it, until its last try, which records FAILED.
 */
export async function runMessageSend(deps: Deps, job: JobContext<MessageSendJob>): Promise<void> {
  const { db, log } = deps;
  const [send] = await db.select().from(messageSends).where(eq(messageSends.id, job.data.sendId));
  if (!send || send.status !== 'PENDING') return;
  const finish = (status: 'SENT' | 'SKIPPED' | 'FAILED' | 'PENDING', lastError: string | null) =>
    db
      .update(messageSends)
      .set({
        status,
        attempts: sql`${messageSends.attempts} + 1`,
        lastError: lastError?.slice(0, 500) ?? null,
        ...(status === 'SENT' ? { sentAt: sql`now()` } : {}),
        updatedAt: sql`now()`,
      })
      .where(and(eq(messageSends.id, send.id), eq(messageSends.status, 'PENDING')));
  const [message] = await db.select().from(patientMessages).where(eq(patientMessages.id, send.messageId));
  const templateId = message ? subscribeTemplates(deps.config)[message.kind] : undefined;
  const app = wechatApp(deps.config, 'miniprogram');
  const openId = message && app ? await openIdOf(db, app.appId, message.patientId) : undefined;
  if (!message || !templateId || !app || !openId) {
    await finish('SKIPPED', 'no template or no WeChat openid any more');
    return;
  }
  const outcome = await deps.wechatSubscribe.send(app, {
    openId,
    templateId,
    page: `packages/messages/index?id=${message.id}`,
    data: job.data.data,
    miniprogramState: deps.config.nodeEnv === 'production' ? 'formal' : 'developer',
  });
  const logCtx = { sendId: send.id, messageId: message.id, kind: message.kind, openId: maskOpenId(openId) };
  if (outcome.status === 'SENT') {
    await finish('SENT', null);
    log.info(logCtx, 'subscription message sent');
    return;
  }
  if (outcome.status === 'SKIPPED') {
    await finish('SKIPPED', outcome.error);
    log.info({ ...logCtx, error: outcome.error }, 'subscription message skipped: not subscribed');
    return;
  }
  const last = !outcome.retryable || job.retryCount >= job.retryLimit;
  await finish(last ? 'FAILED' : 'PENDING', outcome.error);
  log.warn({ ...logCtx, error: outcome.error, retry: !last }, 'subscription message failed');
  if (!last) throw new Error(`subscription message: ${outcome.error}`);
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
