/** What one JSON POST to an outside party came to: an answer (any status), or none. */
export type PostJsonResult =
  | { answered: true; status: number; text: string }
  | { answered: false; errorCode: string; errorMessage: string };

/**
 * POSTs a JSON body with a deadline. No answer (timeout, refused connection, reset) is reported with a code —
 * TIMEOUT or the socket's — never thrown: to a caller it is an UNKNOWN outcome, resolved by a later query.
 */
export async function postJson(url: string, body: unknown, timeoutMs: number): Promise<PostJsonResult> {
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8', accept: 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { answered: true, status: res.status, text: await res.text() };
  } catch (e) {
    const err = e as { name?: string; message?: string; cause?: { code?: string } };
    const timeout = err.name === 'TimeoutError' || err.name === 'AbortError';
    return {
      answered: false,
      errorCode: timeout ? 'TIMEOUT' : (err.cause?.code ?? 'NETWORK_ERROR'),
      errorMessage: (err.message ?? 'no reply').slice(0, 300),
    };
  }
}
