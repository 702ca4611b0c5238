import { and, eq, inArray, sql } from 'drizzle-orm';
import { WechatPayV3Channel, type ChannelComment } from '../../channels/wechatpay/adapter';
import { merchantAccounts, orderComments, orders, payments } from '../../db/schema';
import type { Deps } from '../../deps';

/** What one pull did, per run. */
export interface CommentsPullResult {
  /** WeChat Pay accounts that can pull comments (have a v2 key). */
  accounts: number;
  /** Comments read from the channel. */
  pulled: number;
  /** Rows that did not exist before. */
  inserted: number;
  /** Accounts whose pull stopped on a channel error (logged; the next run covers the same window). */
  failed: number;
}

export interface CommentsPullOptions {
  /** How far back to look, hours (default 24: each hourly run overlaps the last 23, so a missed run loses nothing). */
  windowHours?: number;
  /** Only these merchant accounts (tests, a manual run). */
  accountIds?: string[];
  /** Page size, at most 200. */
  pageSize?: number;
}

/** Beyond this many pages in one window something is wrong (an offset that never ends): stop. */
const MAX_PAGES = 500;

/**
 * Pulls the WeChat Pay order comments (订单评价) of the last `windowHours` for every enabled WeChat Pay account
 * with an API v2 key, page by page, and upserts them into order_comments keyed by (account, transaction id):
 * overlapping windows, retried jobs and several bff processes pulling at once all leave one row per comment.
 * Each comment is linked to our order through payments.channel_trade_no when the payment is ours.
 */
export async function runCommentsPull(
  deps: Deps,
  opts: CommentsPullOptions = {},
): Promise<CommentsPullResult> {
  const { db, channels, clock, log } = deps;
  // The API takes whole seconds and (we assume, [U]) an exclusive end: end at the next second so a comment
  // made in the current second is not left out.
  const to = new Date(Math.floor(clock.now().getTime() / 1000) * 1000 + 1000);
  const from = new Date(to.getTime() - (opts.windowHours ?? 24) * 3600_000);
  const accounts = await db
    .select({ id: merchantAccounts.id })
    .from(merchantAccounts)
    .where(
      and(
        eq(merchantAccounts.channel, 'wechatpay'),
        eq(merchantAccounts.enabled, true),
        opts.accountIds ? inArray(merchantAccounts.id, opts.accountIds) : undefined,
      ),
    );
  const result: CommentsPullResult = { accounts: 0, pulled: 0, inserted: 0, failed: 0 };
  for (const { id } of accounts) {
    let account;
    try {
      account = await channels.get(id);
    } catch (e) {
      log.warn(
        { accountId: id, err: { message: (e as Error).message } },
        'comments pull: account not loadable',
      );
      result.failed++;
      continue;
    }
    const adapter = account.adapter;
    if (!(adapter instanceof WechatPayV3Channel) || !adapter.canPullComments) continue;
    result.accounts++;
    let offset = 0;
    for (let page = 0; page < MAX_PAGES; page++) {
      const limit = opts.pageSize ?? 200;
      const res = await adapter.pullComments({ from, to, offset, limit });
      if (res.result !== 'SUCCESS') {
        log.warn(
          { accountId: id, offset, errorCode: res.errorCode, result: res.result },
          'comments pull stopped on a channel error',
        );
        result.failed++;
        break;
      }
      const comments = res.comments ?? [];
      result.pulled += comments.length;
      result.inserted += await upsertComments(deps, account, comments);
      if (comments.length < limit || (res.nextOffset ?? 0) <= offset) break;
      offset = res.nextOffset!;
    }
  }
  if (result.pulled || result.failed) log.info(result, 'comments pulled');
  return result;
}

/** Upserts one page; returns how many rows are new. */
async function upsertComments(
  deps: Deps,
  account: { id: string; hospitalId: string; channel: string },
  comments: ChannelComment[],
): Promise<number> {
  if (comments.length === 0) return 0;
  const { db } = deps;
  const tradeNos = [...new Set(comments.map((c) => c.channelTradeNo))];
  // One lookup per page: our payments with these WeChat transaction ids, on this account.
  const matches = await db
    .select({ tradeNo: payments.channelTradeNo, orderId: payments.orderId })
    .from(payments)
    .innerJoin(orders, eq(orders.id, payments.orderId))
    .where(and(eq(orders.merchantAccountId, account.id), inArray(payments.channelTradeNo, tradeNos)));
  const orderOf = new Map(matches.map((m) => [m.tradeNo!, m.orderId]));
  const rows = await db
    .insert(orderComments)
    .values(
      comments.map((c) => ({
        hospitalId: account.hospitalId,
        merchantAccountId: account.id,
        channel: account.channel,
        channelTradeNo: c.channelTradeNo,
        orderId: orderOf.get(c.channelTradeNo) ?? null,
        stars: c.stars,
        content: c.content,
        commentedAt: c.commentedAt,
      })),
    )
    .onConflictDoUpdate({
      target: [orderComments.merchantAccountId, orderComments.channelTradeNo],
      set: {
        stars: sql`excluded.stars`,
        content: sql`excluded.content`,
        commentedAt: sql`excluded.commented_at`,
        orderId: sql`coalesce(excluded.order_id, ${orderComments.orderId})`,
      },
    })
    // xmax = 0 only on a row this statement inserted (an updated row carries the updating transaction's id).
    .returning({ inserted: sql<boolean>`(xmax = 0)` });
  return rows.filter((r) => r.inserted).length;
}
