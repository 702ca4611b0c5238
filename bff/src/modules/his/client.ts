import type { HisPaymentResult, HisRefundResult } from '@hp/shared';
import type { OutboundRecorder } from '../../channels/types';
import { signedHeaders } from './signature';

/** Where and as whom we call one hospital's HIS. */
export interface HisEndpoint {
  hospitalId: string;
  appId: string;
  secret: string;
  baseUrl: string;
}

/** Why a push did not get through; `retryable` false means retrying cannot help (the HIS refused it). */
export class HisCallError extends Error {
  override name = 'HisCallError';
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly httpStatus?: number,
  ) {
    super(message);
  }
}

/**
 * The bff's view of a hospital information system. Different hospitals run different HIS products: each
 * gets an implementation of this interface; {@link HttpHisClient} is the reference one (signed JSON over
 * HTTP). Pull operations (pending bills, patients, prescriptions, invoices) arrive with the HIS issue.
 */
export interface HisClient {
  /** Pushes a payment or refund result. Resolves when the HIS acknowledged it; idempotent on `eventId` at the HIS. */
  pushResult(endpoint: HisEndpoint, result: HisPaymentResult | HisRefundResult): Promise<void>;
}

/** Reference HIS client: `POST {baseUrl}/his/v1/results`, signed like our open API, expects `{code:"0"}`. */
export class HttpHisClient implements HisClient {
  constructor(
    private readonly timeoutMs: number,
    private readonly record: OutboundRecorder = () => undefined,
  ) {}

  async pushResult(endpoint: HisEndpoint, result: HisPaymentResult | HisRefundResult): Promise<void> {
    const url = new URL('/his/v1/results', endpoint.baseUrl);
    const body = JSON.stringify(result);
    const started = Date.now();
    const base = {
      party: 'his',
      operation: `push_${result.kind}_result`,
      orderNo: result.orderNo,
      method: 'POST',
      url: url.toString(),
      request: result,
    };
    let status: number | undefined;
    let text = '';
    try {
      const res = await fetch(url, {
        method: 'POST',
        body,
        headers: signedHeaders(endpoint.appId, endpoint.secret, 'POST', url.pathname + url.search, body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      status = res.status;
      text = await res.text();
    } catch (e) {
      const message =
        (e as Error).name === 'TimeoutError'
          ? 'HIS did not answer in time'
          : `HIS unreachable: ${(e as Error).message}`;
      this.record({
        ...base,
        latencyMs: Date.now() - started,
        result: 'UNKNOWN',
        errorCode: 'NETWORK_ERROR',
        errorMessage: message,
      });
      throw new HisCallError(message, true);
    }
    let reply: { code?: string; message?: string } = {};
    try {
      reply = JSON.parse(text);
    } catch {
      /* not JSON: judged by status below */
    }
    const ok = status >= 200 && status < 300 && reply.code === '0';
    this.record({
      ...base,
      httpStatus: status,
      latencyMs: Date.now() - started,
      result: ok ? 'SUCCESS' : 'FAIL',
      errorCode: ok ? undefined : (reply.code ?? `HTTP_${status}`),
      errorMessage: ok ? undefined : (reply.message ?? text.slice(0, 200)),
      response: reply,
    });
    if (!ok)
      throw new HisCallError(
        `HIS answered ${status} ${reply.code ?? ''} ${reply.message ?? ''}`.trim(),
        status >= 500 || status === 429 || status === 408,
        status,
      );
  }
}
