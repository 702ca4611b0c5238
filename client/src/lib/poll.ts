import type { OrderStatus } from '@hp/shared';

/** What the result page says about an order. The client never decides this from the payment sheet's answer. */
export type OrderOutcome = 'success' | 'failed' | 'pending' | 'abnormal';

/** How an order's status reads to a patient. */
export function outcomeOf(status: OrderStatus): OrderOutcome {
  switch (status) {
    case 'PAID':
    case 'SETTLED':
    case 'REFUNDING':
    case 'PARTIALLY_REFUNDED':
    case 'REFUNDED':
      return 'success';
    case 'FAILED':
    case 'CLOSED':
      return 'failed';
    case 'CONFLICTED':
      return 'abnormal';
    case 'CREATED':
    case 'PAYING':
      return 'pending';
  }
}

/** Delays between polls of a paying order: brisk first (the notification usually lands in a second), then slower. */
export const POLL_DELAYS_MS = [1000, 1000, 1500, 2000, 2000, 3000, 3000, 5000];

export interface PollOptions<T> {
  fetch: () => Promise<T>;
  statusOf: (t: T) => OrderStatus;
  delaysMs?: readonly number[];
  sleep?: (ms: number) => Promise<void>;
  /** Stop early (the page was left). */
  cancelled?: () => boolean;
  /** Each answer, for the page to show. */
  onUpdate?: (t: T) => void;
}

/**
 * Polls the order until it is final or the delays run out; a failed poll (network) is retried in the next
 * step. Returns the last order seen and whether it is final; `undefined` when no poll ever answered.
 */
export async function pollOrder<T>(o: PollOptions<T>): Promise<{ order?: T; final: boolean }> {
  const delays = o.delaysMs ?? POLL_DELAYS_MS;
  const sleep = o.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms)));
  let last: T | undefined;
  for (let i = 0; i <= delays.length; i++) {
    if (o.cancelled?.()) break;
    try {
      last = await o.fetch();
      o.onUpdate?.(last);
      if (outcomeOf(o.statusOf(last)) !== 'pending') return { order: last, final: true };
    } catch {
      // A lost poll says nothing about the payment: ask again.
    }
    if (i < delays.length) await sleep(delays[i]!);
  }
  return { order: last, final: false };
}
