import { canonicalString, signRequest, verifySignature } from './signature';

describe('open-API signature', () => {
  // A fixed vector HIS vendors can check their implementation against (also in the README).
  const vector = {
    secret: 'demo-secret-please-change',
    method: 'POST',
    target: '/open/v1/bills',
    timestamp: '1790000000',
    nonce: '0123456789abcdef',
    body: '{"bills":[]}',
  };

  it('builds the canonical string from method, target, timestamp, nonce and body hash', () => {
    expect(canonicalString(vector.method, vector.target, vector.timestamp, vector.nonce, vector.body)).toBe(
      'POST\n/open/v1/bills\n1790000000\n0123456789abcdef\na13b28a6796911d08d2d852f75942c102bd598cb3815f6d9acef4e9c2b341223\n',
    );
  });

  it('matches the published vector', () => {
    expect(
      signRequest(vector.secret, vector.method, vector.target, vector.timestamp, vector.nonce, vector.body),
    ).toBe(PUBLISHED);
  });

  it('verifies its own signature and nothing else', () => {
    const sig = signRequest(
      vector.secret,
      vector.method,
      vector.target,
      vector.timestamp,
      vector.nonce,
      vector.body,
    );
    const v = (over: Partial<typeof vector>, s = sig) => {
      const x = { ...vector, ...over };
      return verifySignature(x.secret, s, x.method, x.target, x.timestamp, x.nonce, x.body);
    };
    expect(v({})).toBe(true);
    expect(v({ body: '{"bills": []}' })).toBe(false);
    expect(v({ target: '/open/v1/bills?x=1' })).toBe(false);
    expect(v({ method: 'PUT' })).toBe(false);
    expect(v({ nonce: '0123456789abcdeF' })).toBe(false);
    expect(v({ timestamp: '1790000001' })).toBe(false);
    expect(v({ secret: 'other' })).toBe(false);
    expect(v({}, 'not base64!!')).toBe(false);
    expect(v({}, '')).toBe(false);
  });
});

/** Computed independently with plain node:crypto. */
const PUBLISHED = 'vchrkWlbFxrMKhKfxeaF7ZYHMlEvVPRcaIb3VX3kZAw=';
