import { ApiError, createApi, messageOf, type Transport } from './api';
import { newIdempotencyKey } from './idempotency';
import { createSessionStore } from './session';

describe('patient API client', () => {
  it('sends the bearer token and JSON; answers data on 2xx', async () => {
    const transport = jest.fn<ReturnType<Transport>, Parameters<Transport>>(async () => ({
      statusCode: 201,
      data: { id: 'ord_1' },
    }));
    const api = createApi({ base: 'http://bff', transport, token: () => 'tok' });
    const r = await api.post<{ id: string }>(
      '/api/orders',
      { billIds: ['bill_1'] },
      { 'Idempotency-Key': 'k-12345678' },
    );
    expect(r.id).toBe('ord_1');
    expect(transport).toHaveBeenCalledWith({
      url: 'http://bff/api/orders',
      method: 'POST',
      data: { billIds: ['bill_1'] },
      header: {
        authorization: 'Bearer tok',
        'content-type': 'application/json',
        'Idempotency-Key': 'k-12345678',
      },
    });
  });

  it('turns error bodies into ApiError with the code, the created order and a Chinese message', async () => {
    const onUnauthorized = jest.fn();
    const answers = [
      { statusCode: 503, data: { error: { code: 'channel_unavailable', message: 'x', orderId: 'ord_9' } } },
      { statusCode: 401, data: { error: { code: 'unauthorized', message: 'expired' } } },
      { statusCode: 502, data: '<html>bad gateway</html>' },
    ];
    const api = createApi({
      base: '',
      transport: async () => answers.shift()!,
      token: () => 'expired-token',
      onUnauthorized,
    });
    const e1 = await api.get('/a').catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(ApiError);
    expect(e1).toMatchObject({ status: 503, code: 'channel_unavailable', orderId: 'ord_9' });
    expect(messageOf(e1)).toContain('订单会自动核实');
    const e2 = await api.get('/b').catch((e: unknown) => e);
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(messageOf(e2)).toBe('登录已过期，请重新登录');
    const e3 = await api.get('/c').catch((e: unknown) => e);
    expect(e3).toMatchObject({ status: 502, code: 'http_error' });
    // A refused login (no session yet) is shown on the login page, not a trip back to it.
    const login = createApi({
      base: '',
      transport: async () => ({
        statusCode: 401,
        data: { error: { code: 'unauthorized', message: 'bad code' } },
      }),
      token: () => undefined,
      onUnauthorized,
    });
    await expect(login.post('/api/patient/wx-login', { code: 'x' })).rejects.toMatchObject({
      code: 'unauthorized',
    });
    expect(onUnauthorized).toHaveBeenCalledTimes(1);
    expect(messageOf(new TypeError('fetch failed'))).toBe('网络异常，请检查网络后重试');
  });

  it('a transport failure is a network error, never a silent success', async () => {
    const api = createApi({
      base: '',
      transport: async () => Promise.reject(new Error('offline')),
      token: () => undefined,
    });
    await expect(api.get('/x')).rejects.toMatchObject({ code: 'network_error', status: 0 });
  });

  it('idempotency keys are 8–64 printable characters and differ per attempt', () => {
    const a = newIdempotencyKey();
    const b = newIdempotencyKey();
    expect(a).toMatch(/^[\x21-\x7e]{8,64}$/);
    expect(a).not.toBe(b);
    expect(newIdempotencyKey(0, () => 0)).toBe('ck-0-0000000000000000');
  });

  it('keeps the session until a minute before it expires; a card switch keeps the login method', () => {
    const map = new Map<string, string>();
    let now = 1_000_000;
    const store = createSessionStore(
      { get: (k) => map.get(k), set: (k, v) => void map.set(k, v), remove: (k) => void map.delete(k) },
      () => now,
    );
    const s = {
      token: 't1',
      patient: null,
      hospital: { id: 'hosp_h001', code: 'H001', name: '医院' },
      expiresIn: 7200,
    };
    store.set(s, 'wechat');
    expect(store.get()?.token).toBe('t1');
    store.replace({ ...s, token: 't2', patient: { id: 'pat_1', name: '张三' } });
    expect(store.get()).toMatchObject({ token: 't2', method: 'wechat' });
    now += 7200_000 - 30_000;
    expect(store.get()).toBeUndefined();
    store.clear();
    expect(map.size).toBe(0);
  });
});
