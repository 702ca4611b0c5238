import type { OrderStatus } from '@hp/shared';
import { outcomeOf, pollOrder } from './poll';

describe('polling the order until it is final', () => {
  const sequence = (...answers: (OrderStatus | Error)[]) => {
    let i = 0;
    return jest.fn(async () => {
      const a = answers[Math.min(i++, answers.length - 1)]!;
      if (a instanceof Error) throw a;
      return { status: a };
    });
  };
  const noSleep = jest.fn(async () => undefined);

  it('reads statuses as a patient would', () => {
    expect(outcomeOf('SETTLED')).toBe('success');
    expect(outcomeOf('PARTIALLY_REFUNDED')).toBe('success');
    expect(outcomeOf('CLOSED')).toBe('failed');
    expect(outcomeOf('PAYING')).toBe('pending');
    expect(outcomeOf('CONFLICTED')).toBe('abnormal');
  });

  it('polls through PAYING and lost answers until PAID', async () => {
    const fetch = sequence('PAYING', new Error('network'), 'PAYING', 'PAID');
    const seen: string[] = [];
    const r = await pollOrder({
      fetch,
      statusOf: (o) => o.status,
      sleep: noSleep,
      onUpdate: (o) => seen.push(o.status),
    });
    expect(r).toEqual({ order: { status: 'PAID' }, final: true });
    expect(fetch).toHaveBeenCalledTimes(4);
    expect(seen).toEqual(['PAYING', 'PAYING', 'PAID']);
  });

  it('gives up after the delays, not final, with the last order', async () => {
    const fetch = sequence('PAYING');
    const sleep = jest.fn(async () => undefined);
    const r = await pollOrder({ fetch, statusOf: (o) => o.status, sleep, delaysMs: [10, 20] });
    expect(r).toEqual({ order: { status: 'PAYING' }, final: false });
    expect(fetch).toHaveBeenCalledTimes(3);
    expect(sleep.mock.calls).toEqual([[10], [20]]);
  });

  it('a cancelled sheet is checked once; a left page stops polling', async () => {
    const once = sequence('PAYING');
    expect(await pollOrder({ fetch: once, statusOf: (o) => o.status, delaysMs: [] })).toEqual({
      order: { status: 'PAYING' },
      final: false,
    });
    expect(once).toHaveBeenCalledTimes(1);
    const never = sequence('PAYING');
    expect(await pollOrder({ fetch: never, statusOf: (o) => o.status, cancelled: () => true })).toEqual({
      order: undefined,
      final: false,
    });
    expect(never).not.toHaveBeenCalled();
  });
});
