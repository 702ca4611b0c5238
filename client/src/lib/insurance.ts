import type { InsuranceOrderView, InsuranceSplitView, InsuranceStatus, OrderView } from '@hp/shared';
import type { PayOption, Surface } from '../pay/options';
import { ApiError, messageOf } from './api';
import { sumFen, yuanLabel } from './money';

/**
 * Medical insurance (医保) at checkout, as decisions the page follows: whether 医保支付 is offered and how, what a
 * failed quote means, what to do with the order the bff answers after 确认支付, and the split card's lines.
 */

/** How 医保支付 stands for this patient on this surface. */
export type InsuranceOffer =
  /** Not offered: the hospital takes no insurance online, or the cash part cannot be paid here. */
  | { kind: 'none' }
  /** The patient must first authorise the hospital on the national platform's page. */
  | { kind: 'authorize' }
  /** Authorised: a quote can be asked for, its cash part paid through WeChat Pay with this trade type. */
  | { kind: 'ready'; tradeType: 'JSAPI' | 'NATIVE' | 'H5'; settleChannel: 'nhsa' | 'wxmedins' };

/**
 * Whether and how 医保支付 is offered. The cash part (个人自付) is collected through WeChat Pay in the way this
 * surface pays with it (its {@link PayOption}); without one it could not be paid, so insurance is not offered.
 * WeChat's own insurance pay (wxmedins: one sheet for both parts) needs JSAPI with the WeChat login's openid;
 * otherwise the national platform settles (nhsa) and the cash part follows as an ordinary WeChat payment.
 */
export function insuranceOffer(
  status: InsuranceStatus | undefined,
  options: readonly PayOption[],
  ctx: { surface: Surface; hasOpenId: boolean },
): InsuranceOffer {
  if (!status?.available) return { kind: 'none' };
  const wechat = options.find((o) => o.channel === 'wechatpay');
  if (!wechat || (wechat.tradeType !== 'JSAPI' && wechat.tradeType !== 'NATIVE' && wechat.tradeType !== 'H5'))
    return { kind: 'none' };
  if (!status.authorized) return { kind: 'authorize' };
  const medins =
    wechat.tradeType === 'JSAPI' &&
    ctx.hasOpenId &&
    (ctx.surface === 'weapp' || ctx.surface === 'h5-wechat') &&
    status.settleChannels.includes('wxmedins');
  return { kind: 'ready', tradeType: wechat.tradeType, settleChannel: medins ? 'wxmedins' : 'nhsa' };
}

/** Insurance codes whose message the bff writes for the patient (in Chinese): shown as they come. */
const OWN_MESSAGE_CODES = new Set([
  'insurance_not_authorized',
  'insurance_refused',
  'name_mismatch',
  'channel_unavailable',
  'order_not_payable',
]);
const CJK = /[\u4e00-\u9fff]/;

/** The message to show for an error of an insurance call: the server's own when it wrote one for patients. */
export function insuranceMessage(e: unknown): string {
  if (e instanceof ApiError && OWN_MESSAGE_CODES.has(e.code) && CJK.test(e.message)) return e.message;
  if (e instanceof ApiError && e.code === 'insurance_not_authorized')
    return '尚未授权使用医保（或授权已过期），请先授权或选择自费支付';
  if (e instanceof ApiError && e.code === 'insurance_refused')
    return '医保平台未受理本次结算，可选择自费支付';
  return messageOf(e);
}

/** What a failed quote means for the page. */
export interface QuoteFailure {
  /** `authorize`: (again) not authorised; `refused`: the platform said no — self-pay is the way; `error`: try again. */
  kind: 'authorize' | 'refused' | 'error';
  message: string;
}

export function quoteFailure(e: unknown): QuoteFailure {
  const message = insuranceMessage(e);
  if (!(e instanceof ApiError)) return { kind: 'error', message };
  if (e.code === 'insurance_not_authorized') return { kind: 'authorize', message };
  if (e.code === 'insurance_refused' || e.code === 'name_mismatch') return { kind: 'refused', message };
  return { kind: 'error', message };
}

/** What to do with the insurance order the bff answered to 确认支付. */
export type PayStep =
  /** The cash part through WeChat Pay: this order handed to `requestPayment` (its amount is the cash part). */
  | { kind: 'cash'; order: Pick<OrderView, 'id' | 'orderNo' | 'amountFen' | 'pay'> }
  /** WeChat's insurance sheet (wxmedins) with these parameters. */
  | { kind: 'medins' }
  /** Paid, or settling with nothing left for this device to do: the result page asks until it is final. */
  | { kind: 'result' }
  /** The insurance part failed (nothing taken; the bills are free again): the message, and self-pay is offered. */
  | { kind: 'failed'; message: string };

export function nextPayStep(v: InsuranceOrderView): PayStep {
  if (v.settlementStatus === 'FAILED' || v.status === 'FAILED' || v.status === 'CLOSED')
    return { kind: 'failed', message: v.error ?? '医保支付未成功，如有扣款将自动退回；可选择自费支付' };
  if (v.medicalInsurancePay) return { kind: 'medins' };
  if (v.pay && v.split.cashFen > 0)
    return {
      kind: 'cash',
      order: { id: v.orderId, orderNo: v.orderNo, amountFen: v.split.cashFen, pay: v.pay },
    };
  return { kind: 'result' };
}

/** One line of the split card. */
export interface SplitLine {
  key: 'fund' | 'psnAcct' | 'other' | 'cash';
  label: string;
  fen: number;
  /** `¥36.00`. */
  text: string;
}

/** The split card as the patient reads it: the lines, the total, and what insurance pays altogether. */
export interface SplitCard {
  lines: SplitLine[];
  total: string;
  /** Fund + personal account + other. */
  insurance: string;
  cash: string;
  /** The parts add up to the total (the bff checks it too; a card that does not is not paid). */
  consistent: boolean;
}

export const SPLIT_LABELS: Record<SplitLine['key'], string> = {
  fund: '医保统筹',
  psnAcct: '个人账户',
  other: '其他',
  cash: '个人自付（现金）',
};

/** The split's lines from integer fen by string arithmetic. */
export function splitCard(s: InsuranceSplitView): SplitCard {
  const parts: [SplitLine['key'], number][] = [
    ['fund', s.fundFen],
    ['psnAcct', s.psnAcctFen],
    ['other', s.otherFen],
    ['cash', s.cashFen],
  ];
  const insuranceFen = sumFen([s.fundFen, s.psnAcctFen, s.otherFen]);
  return {
    lines: parts.map(([key, fen]) => ({ key, label: SPLIT_LABELS[key], fen, text: yuanLabel(fen) })),
    total: yuanLabel(s.totalFen),
    insurance: yuanLabel(insuranceFen),
    cash: yuanLabel(s.cashFen),
    consistent: sumFen([insuranceFen, s.cashFen]) === sumFen([s.totalFen]),
  };
}

/** 险种 codes a patient may meet (insutype). */
const INSUTYPES: Record<string, string> = {
  '310': '职工基本医疗保险',
  '390': '城乡居民基本医疗保险',
  '320': '公务员医疗补助',
  '330': '大额医疗费用补助',
  '340': '离休人员医疗保障',
  '391': '城镇居民基本医疗保险',
  '392': '城乡居民大病医疗保险',
};

/** `310` → `职工基本医疗保险`; an unknown code as it is. */
export function insutypeText(code: string | null | undefined): string {
  if (!code) return '';
  return INSUTYPES[code] ?? `险种 ${code}`;
}

/** What the national platform's authorisation page said on return (its query), checked against our state. */
export type AuthReturn =
  { kind: 'code'; authCode: string } | { kind: 'cancelled' } | { kind: 'invalid'; message: string };

export function authReturn(
  params: Record<string, string | undefined>,
  expectedState: string | undefined,
): AuthReturn {
  if (params.error === 'cancelled') return { kind: 'cancelled' };
  if (params.error) return { kind: 'invalid', message: `医保授权未完成（${params.error}）` };
  if (!params.authCode) return { kind: 'invalid', message: '医保授权页未返回授权码，请重新授权' };
  // A return we did not start (an old link, a forged one) is not completed.
  if (!expectedState || params.state !== expectedState)
    return { kind: 'invalid', message: '授权已过期或不是本次发起的，请重新授权' };
  return { kind: 'code', authCode: params.authCode };
}

/** Storage key of the state of the authorisation in progress. */
export const AUTH_STATE_KEY = 'hp.insurance.state';

/** Subscription messages asked for before paying, most useful first (WeChat takes at most three at once). */
const SUBSCRIBE_KINDS = ['payment_succeeded', 'refund_done', 'deposit_paid', 'settlement_refunded'];

/** The template ids to ask consent for before paying: the bff's, at most three. */
export function subscribeTemplateIds(templates: Record<string, string> | undefined): string[] {
  if (!templates) return [];
  const ids = SUBSCRIBE_KINDS.map((k) => templates[k]).filter((t): t is string => Boolean(t));
  return [...new Set(ids)].slice(0, 3);
}

/** The query of a URL as a record, decoded (mini-programs have no URLSearchParams). */
export function queryOf(url: string): Record<string, string> {
  const out: Record<string, string> = {};
  const q = url.split('#')[0]!.split('?')[1] ?? '';
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  for (const part of q.split('&')) {
    if (!part) continue;
    const i = part.indexOf('=');
    out[decode(i < 0 ? part : part.slice(0, i))] = i < 0 ? '' : decode(part.slice(i + 1));
  }
  return out;
}
