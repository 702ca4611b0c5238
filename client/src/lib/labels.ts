import type { OrderStatus } from '@hp/shared';

/** Order states as patients read them. */
export const ORDER_STATUS_TEXT: Record<OrderStatus, string> = {
  CREATED: '待支付',
  PAYING: '待支付',
  PAID: '已支付',
  SETTLED: '已支付',
  CLOSED: '已关闭',
  FAILED: '支付失败',
  REFUNDING: '退款中',
  PARTIALLY_REFUNDED: '部分退款',
  REFUNDED: '已退款',
  CONFLICTED: '异常待核实',
};

export const REFUND_STATUS_TEXT: Record<string, string> = {
  PENDING: '处理中',
  PROCESSING: '处理中',
  SUCCESS: '已退回',
  FAILED: '退款失败',
  ABNORMAL: '退款异常（医院处理中）',
};

export const CHANNEL_TEXT: Record<string, string> = {
  wechatpay: '微信支付',
  alipay: '支付宝',
  bankpay: '聚合支付',
};

/** `2026-11-23T06:30:00Z` → `2026-11-23 14:30` in Beijing time, without a date library. */
export function beijingTime(iso: string | null | undefined): string {
  if (!iso) return '';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '';
  const d = new Date(t + 8 * 3600_000).toISOString();
  return `${d.slice(0, 10)} ${d.slice(11, 16)}`;
}
