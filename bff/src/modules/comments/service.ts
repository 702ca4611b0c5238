import { and, count, desc, eq, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { orderComments, orders } from '../../db/schema';

/** Filters of the comment list (admin). */
export interface ListCommentsInput {
  /** Only this hospital (a hospital-scoped admin always passes theirs). */
  hospitalId?: string;
  /** Commented at or after. */
  from?: Date;
  /** Commented before. */
  to?: Date;
  /** Only these star ratings (1–5). */
  stars?: number | number[];
  /** Page size: 1–200. */
  limit: number;
  offset: number;
}

/** One comment as the admin shows it, with our order when the payment is ours. */
export interface CommentView {
  id: number;
  hospitalId: string;
  merchantAccountId: string;
  channel: string;
  channelTradeNo: string;
  orderId: string | null;
  orderNo: string | null;
  stars: number;
  content: string;
  commentedAt: Date;
}

/** Comments newest first, with the total matching the filters. */
export async function listComments(
  db: Db,
  input: ListCommentsInput,
): Promise<{ items: CommentView[]; total: number }> {
  const where: SQL[] = [];
  if (input.hospitalId) where.push(eq(orderComments.hospitalId, input.hospitalId));
  if (input.from) where.push(gte(orderComments.commentedAt, input.from));
  if (input.to) where.push(lt(orderComments.commentedAt, input.to));
  if (input.stars !== undefined) {
    const stars = Array.isArray(input.stars) ? input.stars : [input.stars];
    where.push(inStars(stars));
  }
  const filter = where.length ? and(...where) : undefined;
  const limit = Math.min(200, Math.max(1, Math.floor(input.limit)));
  const offset = Math.max(0, Math.floor(input.offset));
  const [items, [totalRow]] = await Promise.all([
    db
      .select({
        id: orderComments.id,
        hospitalId: orderComments.hospitalId,
        merchantAccountId: orderComments.merchantAccountId,
        channel: orderComments.channel,
        channelTradeNo: orderComments.channelTradeNo,
        orderId: orderComments.orderId,
        orderNo: orders.orderNo,
        stars: orderComments.stars,
        content: orderComments.content,
        commentedAt: orderComments.commentedAt,
      })
      .from(orderComments)
      .leftJoin(orders, eq(orders.id, orderComments.orderId))
      .where(filter)
      .orderBy(desc(orderComments.commentedAt), desc(orderComments.id))
      .limit(limit)
      .offset(offset),
    db.select({ n: count() }).from(orderComments).where(filter),
  ]);
  return { items, total: totalRow?.n ?? 0 };
}

function inStars(stars: number[]): SQL {
  const valid = stars.filter((s) => Number.isInteger(s) && s >= 1 && s <= 5);
  return valid.length ? inArray(orderComments.stars, valid) : sql`false`;
}
