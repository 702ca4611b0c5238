import { sm3 } from 'sm-crypto-v2';
import { simCanonical } from '../../sandbox/bankpay/simulator';
import {
  BANKPAY_DEFAULT_USER_ID,
  BankPayChannel,
  canonicalString,
  envelopeFormatError,
  parseBankStatement,
  signCanonical,
  verifyCanonical,
} from './adapter';

/**
 * The contract's test vector (docs/bank-aggregator-contract.md §3.4). The signature was checked with OpenSSL
 * as well: `openssl pkeyutl -verify -pubin -inkey pub.pem -rawin -in msg.txt -sigfile sig.der -digest sm3
 * -pkeyopt distid:1234567812345678` → "Signature Verified Successfully".
 */
const VECTOR = {
  privateKeyHex: '8da967a26639b5c007cdc96faa0635cae360959fa4b679d42940457878894046',
  publicKeyHex:
    '04fa945e3dd6ddc1149204f5e6b580f3a524e815a7f8a6a04b1cda6fcaf399641ec8372d1281d6799c74b2a8a06c222e7a5d9f86605806e32dd71f13c496300207',
  envelope: {
    appId: 'hpdemo001',
    merchantNo: '105000000000001',
    method: 'trade.query',
    version: '1.0',
    signType: 'SM2',
    keyId: 'K2026A',
    timestamp: '1790000000',
    nonce: '0123456789abcdef0123456789abcdef',
    bizContent: '{"outTradeNo":"P20261123153000123456789012","subject":"门诊西药费 & 检查"}',
    sign: 'f9FqsX37zHFggepRUkce7HiZQ1KlrWzmpYZ6GwHHRLJwfPNPatdwVwTyr1X6FJXEQNAiBhelmBlSfcq/Zx35nA==',
  } as Record<string, string>,
  canonical:
    'appId=hpdemo001&bizContent={"outTradeNo":"P20261123153000123456789012","subject":"门诊西药费 & 检查"}' +
    '&keyId=K2026A&merchantNo=105000000000001&method=trade.query&nonce=0123456789abcdef0123456789abcdef' +
    '&signType=SM2&timestamp=1790000000&version=1.0',
  sm3: '9446819e4c118a9449e6b7716874826ee0bfafd4bf4598040e9c5424e7e4bb26',
};

describe('bank aggregator signing (canonical form, SM2 with SM3 and the default user id)', () => {
  it('builds the canonical string of the vector: sorted keys, sign and empty values left out', () => {
    expect(canonicalString(VECTOR.envelope)).toBe(VECTOR.canonical);
    expect(canonicalString({ ...VECTOR.envelope, extra: '' })).toBe(VECTOR.canonical);
    expect(sm3(new TextEncoder().encode(VECTOR.canonical))).toBe(VECTOR.sm3);
    // The simulator's independent implementation agrees.
    expect(simCanonical(VECTOR.envelope)).toBe(VECTOR.canonical);
  });

  it('verifies the vector signature, and nothing else', () => {
    const { sign } = VECTOR.envelope;
    expect(verifyCanonical(VECTOR.canonical, sign!, VECTOR.publicKeyHex, BANKPAY_DEFAULT_USER_ID)).toBe(true);
    expect(
      verifyCanonical(
        VECTOR.canonical.replace('1790000000', '1790000001'),
        sign!,
        VECTOR.publicKeyHex,
        BANKPAY_DEFAULT_USER_ID,
      ),
    ).toBe(false);
    // Another signer id gives another Z: the same signature fails (a hash:false signer would never match).
    expect(verifyCanonical(VECTOR.canonical, sign!, VECTOR.publicKeyHex, '1234567812345679')).toBe(false);
    expect(
      verifyCanonical(VECTOR.canonical, 'not base64!', VECTOR.publicKeyHex, BANKPAY_DEFAULT_USER_ID),
    ).toBe(false);
    expect(
      verifyCanonical(VECTOR.canonical, sign!.slice(4), VECTOR.publicKeyHex, BANKPAY_DEFAULT_USER_ID),
    ).toBe(false);
  });

  it('signs so that the signature verifies (SM2 signatures are randomised: two differ)', () => {
    const a = signCanonical(
      VECTOR.canonical,
      VECTOR.privateKeyHex,
      VECTOR.publicKeyHex,
      BANKPAY_DEFAULT_USER_ID,
    );
    const b = signCanonical(
      VECTOR.canonical,
      VECTOR.privateKeyHex,
      VECTOR.publicKeyHex,
      BANKPAY_DEFAULT_USER_ID,
    );
    expect(a).not.toBe(b);
    expect(Buffer.from(a, 'base64')).toHaveLength(64);
    for (const s of [a, b])
      expect(verifyCanonical(VECTOR.canonical, s, VECTOR.publicKeyHex, BANKPAY_DEFAULT_USER_ID)).toBe(true);
  });

  it('refuses envelopes whose split into fields could be ambiguous, or that are incomplete', () => {
    expect(envelopeFormatError(VECTOR.envelope, ['appId', 'sign'])).toBeUndefined();
    expect(envelopeFormatError({ ...VECTOR.envelope, nonce: 'a&keyId=X' }, ['appId'])).toMatch(
      /nonce contains/,
    );
    expect(envelopeFormatError({ ...VECTOR.envelope, timestamp: 1790000000 }, ['appId'])).toMatch(
      /not a string/,
    );
    expect(envelopeFormatError({ appId: 'x' }, ['appId', 'sign'])).toBe('missing sign');
    expect(envelopeFormatError([], [])).toBe('not a JSON object');
  });

  it('says what to fix when an account is configured wrongly', () => {
    expect(
      () =>
        new BankPayChannel({
          appId: 'hpdemo001',
          merchantNo: '12345',
          keyId: 'K1',
          privateKeyHex: VECTOR.privateKeyHex,
          bankKeyId: 'B1',
          bankPublicKeyHex: `04${'0'.repeat(128)}`,
          baseUrl: 'https://bank.example/',
          timeoutMs: 1000,
        }),
    ).toThrow(
      /bankpay.*fix: merchantNo is the 15-digit merchant number.*bankPublicKeyHex is not a point on the SM2 curve/,
    );
  });
});

describe('bank aggregator statement file', () => {
  const header =
    'recordType,merchantNo,outTradeNo,bankTradeNo,outRefundNo,bankRefundNo,amountFen,feeFen,finishedAt,status,payMethod';
  const file = (total: string) =>
    Buffer.from(
      [
        header,
        'PAY,105000000000001,P1,BK1,,,12850,39,2026-11-23 09:15:02,SUCCESS,WECHAT',
        'PAY,105000000000001,P2,BK2,,,2500,8,2026-11-23 10:00:00,SUCCESS,ALIPAY',
        'REFUND,105000000000001,P1,BK1,R1,RF1,1000,3,2026-11-23 11:00:00,SUCCESS,WECHAT',
        total,
        '',
      ].join('\r\n'),
    );
  const expectFor = { billDate: '2026-11-23', merchantNo: '105000000000001' };

  it('parses lines and checks them against the TOTAL line', () => {
    const { lines, totals } = parseBankStatement(
      file('TOTAL,2026-11-23,105000000000001,2,15350,1,1000,44'),
      expectFor,
    );
    expect(totals).toEqual({
      paymentCount: 2,
      paymentFen: 15350,
      refundCount: 1,
      refundFen: 1000,
      feeFen: 44, // net: 39 + 8 charged, 3 returned with the refund
    });
    expect(lines[0]).toMatchObject({
      kind: 'PAYMENT',
      orderNo: 'P1',
      channelTradeNo: 'BK1',
      amountFen: 12850,
      feeFen: 39,
    });
    expect(lines[0]!.occurredAt.toISOString()).toBe('2026-11-23T01:15:02.000Z'); // Beijing time
    expect(lines[2]).toMatchObject({
      kind: 'REFUND',
      orderNo: 'P1',
      refundNo: 'R1',
      channelRefundId: 'RF1',
      amountFen: 1000,
    });
  });

  it('refuses a file that disagrees with itself, or is not for us', () => {
    expect(() =>
      parseBankStatement(file('TOTAL,2026-11-23,105000000000001,2,15351,1,1000,44'), expectFor),
    ).toThrow(/paymentFen is 15351 but the lines add up to 15350/);
    expect(() =>
      parseBankStatement(file('TOTAL,2026-11-22,105000000000001,2,15350,1,1000,44'), expectFor),
    ).toThrow(/TOTAL is for 2026-11-22/);
    expect(() => parseBankStatement(file(''), expectFor)).toThrow();
    expect(() => parseBankStatement(Buffer.from('a,b\n'), expectFor)).toThrow(/header/);
    const yuan = Buffer.from(
      `${header}\nPAY,105000000000001,P1,BK1,,,128.50,0,2026-11-23 09:15:02,SUCCESS,\nTOTAL,2026-11-23,105000000000001,1,12850,0,0,0\n`,
    );
    expect(() => parseBankStatement(yuan, expectFor)).toThrow(/not an amount in fen/);
  });

  it('takes a negative net fee on a day with more fees returned than charged', () => {
    const refundOnly = Buffer.from(
      `${header}\nREFUND,105000000000001,P1,BK1,R1,RF1,1000,3,2026-11-23 11:00:00,SUCCESS,WECHAT\nTOTAL,2026-11-23,105000000000001,0,0,1,1000,-3\n`,
    );
    expect(parseBankStatement(refundOnly, expectFor).totals.feeFen).toBe(-3);
  });
});
