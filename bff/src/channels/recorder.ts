import type { Db } from '../db/client';
import { outboundCalls } from '../db/schema';
import type { Logger } from '../lib/logger';
import { maskPayload } from '../lib/mask';
import type { OutboundRecorder } from './types';

/**
 * Writes each outbound call to the interface log (outbound_calls) with payloads masked. Writing is
 * fire-and-forget: a failed log write is logged and never fails the payment path. `flush()` awaits the
 * writes in flight (shutdown, tests).
 */
export function createOutboundRecorder(db: Db, log: Logger) {
  const pending = new Set<Promise<unknown>>();
  const recorderFor =
    (hospitalId: string | null): OutboundRecorder =>
    (call) => {
      const p = db
        .insert(outboundCalls)
        .values({
          hospitalId,
          party: call.party,
          operation: call.operation,
          orderNo: call.orderNo ?? null,
          method: call.method,
          url: call.url.slice(0, 500),
          httpStatus: call.httpStatus ?? null,
          latencyMs: Math.max(0, Math.round(call.latencyMs)),
          result: call.result,
          errorCode: call.errorCode ?? null,
          errorMessage: call.errorMessage?.slice(0, 500) ?? null,
          request: maskPayload(call.request) ?? null,
          response: maskPayload(call.response) ?? null,
        })
        .catch((e: Error) =>
          log.warn({ err: { message: e.message }, party: call.party }, 'interface log write failed'),
        )
        .finally(() => pending.delete(p));
      pending.add(p);
      const level = call.result === 'SUCCESS' ? 'debug' : 'warn';
      log[level](
        {
          party: call.party,
          op: call.operation,
          orderNo: call.orderNo,
          status: call.httpStatus,
          ms: call.latencyMs,
          result: call.result,
          errorCode: call.errorCode,
        },
        'outbound call',
      );
    };
  return {
    recorderFor,
    flush: async () => {
      await Promise.allSettled([...pending]);
    },
  };
}
