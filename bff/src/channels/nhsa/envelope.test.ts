import { sm2 } from 'sm-crypto-v2';
import { simSignText } from '../../sandbox/nhsa/simulator';
import {
  NHSA_DEFAULT_USER_ID,
  NhsaEnvelopeError,
  deriveSm4Key,
  openEnvelope,
  pruneEmpty,
  sealEnvelope,
  signString,
  sm2SignBase64,
  sm2VerifyBase64,
  sm4DecryptHex,
  sm4EncryptHex,
} from './envelope';

/**
 * A fixed vector, checked independently with OpenSSL 3.0:
 * - SM4 key: `printf S3CRETVECTOR0000S3CRETVECTOR0000 | openssl enc -sm4-ecb -K $(printf NHSAVECTOR000001 | xxd -p)`
 *   → upper hex, first 16 characters `BCF10F844BC323B5`.
 * - encData: `printf '<the pruned JSON>' | openssl enc -sm4-ecb -K <hex of BCF10F844BC323B5>` → the same hex.
 * - signData: `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in signstring.txt -sigfile sig.der
 *   -digest sm3 -pkeyopt distid:1234567812345678` (r‖s re-encoded as DER) → "Signature Verified Successfully".
 */
const VECTOR = {
  keys: {
    appId: 'NHSAVECTOR000001ABCDEF0123456789',
    appSecret: 'S3CRETVECTOR0000S3CRETVECTOR0000',
    privateKeyHex: '8da967a26639b5c007cdc96faa0635cae360959fa4b679d42940457878894046',
  },
  publicKeyHex:
    '04fa945e3dd6ddc1149204f5e6b580f3a524e815a7f8a6a04b1cda6fcaf399641ec8372d1281d6799c74b2a8a06c222e7a5d9f86605806e32dd71f13c496300207',
  data: {
    orgCodg: 'H11010500001',
    medOrgOrd: 'P20261123000001',
    userName: '张三',
    remark: '',
    extData: null,
    feedetailList: [{ feedetlSn: '1', detItemFeeSumamt: '12.50', memo: '' }],
    empty: [],
  },
  now: new Date(1790000000000),
  sm4Key: 'BCF10F844BC323B5',
  pruned:
    '{"orgCodg":"H11010500001","medOrgOrd":"P20261123000001","userName":"张三","feedetailList":[{"feedetlSn":"1","detItemFeeSumamt":"12.50"}]}',
  encData:
    'D1CA538DA730733E409865540E14162D5678CEA5FD3DACC512DD16EEE5E08AEC7D46B3D1CF6DCE0C62CEBDAD6F693C2C78DF837' +
    '28C4689A90048B09F9036180F635FE6875043973041543B95C0116561CF4CEBE9AA2CC8C5D6B1CE026563BF53A304D5A49E940D32' +
    'F45C340E8434EFD5746476811C3854E00EDED6560E63783BF373F37AFA95AD2941644B4047D5953B',
  signString:
    'appId=NHSAVECTOR000001ABCDEF0123456789&data={"feedetailList":[{"detItemFeeSumamt":"12.50","feedetlSn":"1"}],' +
    '"medOrgOrd":"P20261123000001","orgCodg":"H11010500001","userName":"张三"}&encType=SM4&signType=SM2' +
    '&timestamp=1790000000000&version=2.0.1&key=S3CRETVECTOR0000S3CRETVECTOR0000',
  /** Made once by sm2SignBase64 and verified by OpenSSL (SM2 signatures are randomised). */
  signData: 'GzjXjKMvkaqRc7pxaku/L9zqWWgp5yiLaxTxNwyP+5yrBbQBxFA9bNK/7c9pXPAkL1TAVQw5xAYorziSLD0bew==',
};

const openKeys = (over: Partial<Parameters<typeof openEnvelope>[1]> = {}) => ({
  appId: VECTOR.keys.appId,
  appSecret: VECTOR.keys.appSecret,
  publicKey: VECTOR.publicKeyHex,
  ...over,
});

function rejection(f: () => unknown): NhsaEnvelopeError {
  try {
    f();
  } catch (e) {
    if (e instanceof NhsaEnvelopeError) return e;
    throw e;
  }
  throw new Error('expected the envelope to be refused');
}

describe('national insurance envelope (SM4 + SM2)', () => {
  it('derives the SM4 key and encrypts the fixed vector to the OpenSSL-checked encData', () => {
    const key = deriveSm4Key(VECTOR.keys.appId, VECTOR.keys.appSecret);
    expect(key.toString('ascii')).toBe(VECTOR.sm4Key);
    expect(JSON.stringify(pruneEmpty(VECTOR.data))).toBe(VECTOR.pruned);
    const env = sealEnvelope(VECTOR.data, VECTOR.keys, { now: VECTOR.now });
    expect(env).toMatchObject({
      appId: VECTOR.keys.appId,
      encType: 'SM4',
      signType: 'SM2',
      timestamp: '1790000000000',
      version: '2.0.1',
      encData: VECTOR.encData,
    });
    expect(sm4DecryptHex(key, VECTOR.encData)).toBe(VECTOR.pruned);
    // Seconds on request [U].
    expect(sealEnvelope({}, VECTOR.keys, { now: VECTOR.now, timestampUnit: 's' }).timestamp).toBe(
      '1790000000',
    );
  });

  it('builds the sign string of the vector: empties dropped, sorted at every depth, &key= last', () => {
    const { signData: _s, ...fields } = sealEnvelope(VECTOR.data, VECTOR.keys, { now: VECTOR.now });
    expect(signString({ ...fields, data: VECTOR.data }, VECTOR.keys.appSecret)).toBe(VECTOR.signString);
    // The simulator's independent implementation agrees.
    expect(simSignText(fields, VECTOR.data, VECTOR.keys.appSecret)).toBe(VECTOR.signString);
  });

  it('signs raw r‖s (64 bytes) that verifies; the OpenSSL-checked vector signature verifies, and nothing else', () => {
    const env = sealEnvelope(VECTOR.data, VECTOR.keys, { now: VECTOR.now });
    expect(Buffer.from(env.signData, 'base64')).toHaveLength(64);
    expect(sm2VerifyBase64(VECTOR.signString, env.signData, VECTOR.publicKeyHex)).toBe(true);
    expect(sm2VerifyBase64(VECTOR.signString, VECTOR.signData, VECTOR.publicKeyHex)).toBe(true);
    expect(sm2VerifyBase64(`${VECTOR.signString}x`, VECTOR.signData, VECTOR.publicKeyHex)).toBe(false);
    // Another signer id gives another Z: the signature fails (a hash:false signer would never match either).
    expect(sm2VerifyBase64(VECTOR.signString, VECTOR.signData, VECTOR.publicKeyHex, '1234567812345679')).toBe(
      false,
    );
    expect(sm2VerifyBase64(VECTOR.signString, 'not base64!', VECTOR.publicKeyHex)).toBe(false);
    expect(sm2VerifyBase64(VECTOR.signString, VECTOR.signData.slice(4), VECTOR.publicKeyHex)).toBe(false);
    // The vector opens as a whole envelope.
    const opened = openEnvelope({ ...env, signData: VECTOR.signData }, openKeys(), { now: VECTOR.now });
    expect(opened.data).toEqual(JSON.parse(VECTOR.pruned));
  });

  it('accepts a DER signature from a peer [U] but always sends raw r‖s', () => {
    const hexDer = sm2.doSignature(new TextEncoder().encode(VECTOR.signString), VECTOR.keys.privateKeyHex, {
      hash: true,
      der: true,
      userId: NHSA_DEFAULT_USER_ID,
    });
    expect(
      sm2VerifyBase64(VECTOR.signString, Buffer.from(hexDer, 'hex').toString('base64'), VECTOR.publicKeyHex),
    ).toBe(true);
    expect(Buffer.from(sm2SignBase64('x', VECTOR.keys.privateKeyHex), 'base64')).toHaveLength(64);
  });

  it('round-trips data, including reply fields, numbers and Chinese text', () => {
    const data = { payOrdId: 'ORD1', amount: 12.5, ok: true, list: [{ b: '2', a: '1' }], name: '李四' };
    const env = sealEnvelope(data, VECTOR.keys, { fields: { code: 0, message: '成功', success: true } });
    const opened = openEnvelope(JSON.parse(JSON.stringify(env)), openKeys());
    expect(opened.data).toEqual(data);
    expect(opened.envelope).toMatchObject({ code: 0, message: '成功', success: true });
    expect(opened.envelope).not.toHaveProperty('encData');
    // \uXXXX-escaped plaintext [U] decrypts to the same data and the same signature.
    const ascii = sealEnvelope(data, VECTOR.keys, { asciiJson: true });
    expect(ascii.encData).not.toBe(env.encData);
    expect(openEnvelope(ascii, openKeys()).data).toEqual(data);
    // A bare envelope (no data) is signed over its fields alone.
    expect(
      openEnvelope(sealEnvelope(undefined, VECTOR.keys, { fields: { code: 1002 } }), openKeys()).data,
    ).toBe(undefined);
  });

  it('drops null and empty values recursively before encrypting and signing', () => {
    expect(
      pruneEmpty({ a: null, b: '', c: [], d: [null, ''], e: { f: null, g: '0', h: [{ i: '' }] }, j: 0 }),
    ).toEqual(
      // Empty objects stay (the demo keeps them); arrays left empty go.
      { e: { g: '0', h: [{}] }, j: 0 },
    );
    const env = sealEnvelope({ a: '1', b: null, c: '' }, VECTOR.keys);
    const opened = openEnvelope(env, openKeys());
    expect(opened.data).toEqual({ a: '1' });
    // Signing {a:'1', b:null} or {a:'1'} is the same thing.
    const { signData: _s, ...f } = env;
    expect(signString({ ...f, data: { a: '1', b: null, c: '', d: [] } }, 'k')).toBe(
      signString({ ...f, data: { a: '1' } }, 'k'),
    );
  });

  it('refuses tampered encData, tampered signData, another key, another app, a stale timestamp', () => {
    const env = sealEnvelope({ payOrdId: 'ORD1', fundPay: '10.00' }, VECTOR.keys);
    const key = deriveSm4Key(VECTOR.keys.appId, VECTOR.keys.appSecret);
    // Re-encrypted with a changed amount (someone with the app secret but not the signing key).
    const forged = {
      ...env,
      encData: sm4EncryptHex(key, JSON.stringify({ payOrdId: 'ORD1', fundPay: '10.01' })),
    };
    expect(rejection(() => openEnvelope(forged, openKeys())).reason).toBe('signature');
    // Bytes changed on the way: no longer decrypts (padding) or no longer JSON.
    const flipped = {
      ...env,
      encData: `${env.encData!.slice(0, -2)}${env.encData!.endsWith('00') ? '01' : '00'}`,
    };
    expect(rejection(() => openEnvelope(flipped, openKeys())).reason).toBe('decrypt');
    expect(rejection(() => openEnvelope({ ...env, encData: 'XYZ' }, openKeys())).reason).toBe('decrypt');
    const sig = Buffer.from(env.signData, 'base64');
    sig[10]! ^= 1;
    expect(
      rejection(() => openEnvelope({ ...env, signData: sig.toString('base64') }, openKeys())).reason,
    ).toBe('signature');
    const other = sm2.generateKeyPairHex();
    expect(rejection(() => openEnvelope(env, openKeys({ publicKey: other.publicKey }))).reason).toBe(
      'signature',
    );
    const byOther = sealEnvelope({ a: '1' }, { ...VECTOR.keys, privateKeyHex: other.privateKey });
    expect(rejection(() => openEnvelope(byOther, openKeys())).reason).toBe('signature');
    // The app secret closes the sign string: another secret (same SM4 seed ignored) fails.
    expect(
      rejection(() => openEnvelope(env, openKeys({ appSecret: 'ANOTHERSECRET000', sm4Key: key }))).reason,
    ).toBe('signature');
    expect(rejection(() => openEnvelope(env, openKeys({ appId: 'ANOTHERAPP000000X' }))).reason).toBe(
      'format',
    );
    const stale = sealEnvelope({ a: '1' }, VECTOR.keys, { now: new Date(Date.now() - 301_000) });
    expect(rejection(() => openEnvelope(stale, openKeys())).reason).toBe('timestamp');
    const staleSeconds = sealEnvelope({ a: '1' }, VECTOR.keys, {
      now: new Date(Date.now() - 301_000),
      timestampUnit: 's',
    });
    expect(rejection(() => openEnvelope(staleSeconds, openKeys())).reason).toBe('timestamp');
    expect(openEnvelope(stale, openKeys(), { maxSkewSeconds: 600 }).data).toEqual({ a: '1' });
    expect(rejection(() => openEnvelope('nope', openKeys())).reason).toBe('format');
    expect(rejection(() => openEnvelope({ ...env, signData: undefined }, openKeys())).reason).toBe('format');
  });

  it('needs an appId of at least 16 ASCII characters to seed the SM4 key', () => {
    expect(() => deriveSm4Key('short', 'secret')).toThrow(/16 ASCII characters/);
  });
});
