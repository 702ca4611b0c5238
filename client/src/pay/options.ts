import type { ChannelName, PatientChannels, TradeType } from '@hp/shared';

/**
 * Where the app runs: the mini-program, the H5 inside WeChat's browser, the H5 in another phone browser, or
 * in a desktop browser (where a QR code on the screen is scanned with the phone).
 */
export type Surface = 'weapp' | 'h5-wechat' | 'h5-browser' | 'h5-desktop';

/** One way to pay that fits the surface. */
export interface PayOption {
  channel: ChannelName;
  tradeType: TradeType;
  label: string;
  hint: string;
}

const LABELS: Record<ChannelName, string> = {
  wechatpay: '微信支付',
  alipay: '支付宝',
  bankpay: '银行卡 / 云闪付（聚合支付）',
};

/**
 * The ways to pay on this surface, best first:
 * - mini-program: WeChat Pay JSAPI (needs the WeChat login's openid); in the sandbox without one, the
 *   simulator's payment sheet (NATIVE);
 * - H5 inside WeChat: WeChat Pay JSAPI (official-account openid), and channels with an H5 cashier;
 * - H5 in another phone browser: the channels' H5 cashiers (WeChat's H5 pay, the bank's page); no QR codes,
 *   which a phone cannot scan from its own screen;
 * - desktop browser: QR codes to scan with the phone (WeChat Pay, Alipay), and the bank's H5 cashier.
 */
export function payOptions(
  surface: Surface,
  channels: PatientChannels['channels'],
  ctx: { hasOpenId: boolean; sandbox: boolean },
): PayOption[] {
  const has = (c: ChannelName, t: TradeType) =>
    channels.some((x) => x.channel === c && x.tradeTypes.includes(t));
  const out: PayOption[] = [];
  const add = (channel: ChannelName, tradeType: TradeType, hint: string) =>
    out.push({ channel, tradeType, label: LABELS[channel], hint });
  if (surface === 'weapp') {
    if (ctx.hasOpenId && has('wechatpay', 'JSAPI')) add('wechatpay', 'JSAPI', '微信支付');
    else if (ctx.sandbox && has('wechatpay', 'NATIVE')) add('wechatpay', 'NATIVE', '沙箱支付页');
    return out;
  }
  if (surface === 'h5-wechat' && ctx.hasOpenId && has('wechatpay', 'JSAPI'))
    add('wechatpay', 'JSAPI', '微信内支付');
  if (surface === 'h5-browser' && has('wechatpay', 'H5')) add('wechatpay', 'H5', '跳转微信支付');
  if (surface === 'h5-desktop') {
    if (has('wechatpay', 'NATIVE')) add('wechatpay', 'NATIVE', '微信扫码');
    if (has('alipay', 'NATIVE')) add('alipay', 'NATIVE', '支付宝扫码');
  }
  if (has('bankpay', 'H5')) add('bankpay', 'H5', '跳转银行收银台');
  return out;
}
