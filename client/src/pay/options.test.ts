import type { PatientChannels } from '@hp/shared';
import { payOptions } from './options';

const channels: PatientChannels['channels'] = [
  { channel: 'alipay', tradeTypes: ['NATIVE'] },
  { channel: 'bankpay', tradeTypes: ['NATIVE', 'H5'] },
  { channel: 'wechatpay', tradeTypes: ['NATIVE', 'JSAPI', 'H5'] },
];
const ways = (o: ReturnType<typeof payOptions>) => o.map((x) => `${x.channel}/${x.tradeType}`);

describe('which ways to pay a surface offers', () => {
  it('mini-program: WeChat Pay JSAPI with the login’s openid; the sandbox sheet without one; nothing else', () => {
    expect(ways(payOptions('weapp', channels, { hasOpenId: true, sandbox: false }))).toEqual([
      'wechatpay/JSAPI',
    ]);
    expect(ways(payOptions('weapp', channels, { hasOpenId: false, sandbox: true }))).toEqual([
      'wechatpay/NATIVE',
    ]);
    expect(payOptions('weapp', channels, { hasOpenId: false, sandbox: false })).toEqual([]);
  });

  it('H5 inside WeChat: JSAPI first, then H5 cashiers other than WeChat’s (it refuses its own browser)', () => {
    expect(ways(payOptions('h5-wechat', channels, { hasOpenId: true, sandbox: false }))).toEqual([
      'wechatpay/JSAPI',
      'bankpay/H5',
    ]);
  });

  it('desktop browser: QR codes to scan with the phone, and the bank’s cashier', () => {
    expect(ways(payOptions('h5-desktop', channels, { hasOpenId: false, sandbox: false }))).toEqual([
      'wechatpay/NATIVE',
      'alipay/NATIVE',
      'bankpay/H5',
    ]);
  });

  it('H5 in another browser: the H5 cashiers; never Alipay QR on the same phone', () => {
    expect(ways(payOptions('h5-browser', channels, { hasOpenId: false, sandbox: true }))).toEqual([
      'wechatpay/H5',
      'bankpay/H5',
    ]);
    expect(ways(payOptions('h5-browser', [channels[2]!], { hasOpenId: false, sandbox: true }))).toEqual([
      'wechatpay/H5',
    ]);
  });
});
