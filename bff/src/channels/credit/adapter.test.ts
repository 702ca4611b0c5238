import { sm2 } from 'sm-crypto-v2';
import { NotificationRejected } from '../types';
import { canonicalString, signCanonical } from '../bankpay/adapter';
import { BankCreditChannel } from './adapter';

/** The credit adapter's signing and verification, without a network: what it sends and what it believes. */
describe('credit pay adapter (signed envelopes)', () => {
  const ours = sm2.generateKeyPairHex();
  const bank = sm2.generateKeyPairHex();
  const USER_ID = '1234567812345678';
  const channel = new BankCreditChannel({
    appId: 'hpcredit001',
    merchantNo: '998000000000001',
    keyId: 'SBXC01',
    privateKeyHex: ours.privateKey,
    bankKeyId: 'CREDITSBX01',
    bankPublicKeyHex: bank.publicKey,
    baseUrl: 'http://127.0.0.1:9/',
    timeoutMs: 1000,
  });

  const notification = (biz: Record<string, unknown>, key = bank) => {
    const env: Record<string, string> = {
      appId: 'hpcredit001',
      merchantNo: '998000000000001',
      notifyId: 'NT0001',
      notifyType: 'TRADE.SUCCESS',
      version: '1.0',
      signType: 'SM2',
      keyId: 'CREDITSBX01',
      timestamp: String(Math.floor(Date.now() / 1000)),
      nonce: '0123456789abcdef0123456789abcdef',
      bizContent: JSON.stringify(biz),
    };
    env.sign = signCanonical(canonicalString(env), key.privateKey, key.publicKey, USER_ID);
    return env;
  };
  const biz = {
    outTradeNo: 'P2026112300000001',
    tradeStatus: 'SUCCESS',
    amountFen: 5000,
    merchantNo: '998000000000001',
    bankTradeNo: 'CR1',
  };

  it('signs a debit request with our SM2 key, verifiable by the bank', () => {
    const env = channel.envelope('credit.debit', { outTradeNo: 'P1', amountFen: 100 });
    const raw = Buffer.from(env.sign!, 'base64').toString('hex');
    expect(
      sm2.doVerifySignature(new TextEncoder().encode(canonicalString(env)), raw, ours.publicKey, {
        hash: true,
        userId: USER_ID,
      }),
    ).toBe(true);
    expect(env).toMatchObject({
      method: 'credit.debit',
      appId: 'hpcredit001',
      merchantNo: '998000000000001',
    });
  });

  it('accepts a genuine notification and maps the debit', () => {
    const parsed = channel.parseNotification({}, JSON.stringify(notification(biz)), new Date());
    expect(parsed.payment).toMatchObject({ orderNo: 'P2026112300000001', state: 'PAID', amountFen: 5000 });
  });

  it('rejects a tampered amount, a forged key and a stale notification', () => {
    const env = notification(biz);
    const tampered = { ...env, bizContent: env.bizContent!.replace('5000', '5001') };
    expect(() => channel.parseNotification({}, JSON.stringify(tampered), new Date())).toThrow(
      NotificationRejected,
    );
    const forged = notification(biz, sm2.generateKeyPairHex());
    expect(() => channel.parseNotification({}, JSON.stringify(forged), new Date())).toThrow(/signature/);
    expect(() => channel.parseNotification({}, JSON.stringify(env), new Date(Date.now() + 3600_000))).toThrow(
      /timestamp/,
    );
  });

  it('declares what it cannot do and refuses a patient-initiated payment', async () => {
    expect(channel.name).toBe('credit');
    expect(channel.capabilities.tradeTypes).toEqual([]);
    const res = await channel.createPayment({
      orderNo: 'P1',
      amountFen: 1,
      description: 'x',
      tradeType: 'NATIVE',
      expiresAt: new Date(),
      notifyUrl: 'http://127.0.0.1/',
    });
    expect(res).toMatchObject({ result: 'FAIL', errorCode: 'UNSUPPORTED' });
  });

  it('a call that gets no answer is UNKNOWN, never a failure', async () => {
    const res = await channel.debit({
      orderNo: 'P1',
      agreementNo: 'AG1',
      amountFen: 1,
      description: 'x',
      notifyUrl: 'http://127.0.0.1/',
    });
    expect(res.result).toBe('UNKNOWN');
  });
});
