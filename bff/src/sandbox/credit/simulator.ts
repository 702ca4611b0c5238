import { randomBytes } from 'node:crypto';
import { json, type SimReply, type SimRequest } from '../harness';
import { BankPaySimulator, type BankOrder, type SimBankMerchant } from '../bankpay/simulator';

/**
 * The bank's credit pay after treatment (信用就医) simulator, implementing the contract in
 * channels/credit/adapter.ts on the bank gateway simulator it extends: SM2-verified requests (bad, expired,
 * replayed refused), signed replies bound to our nonce, signed async notifications with retries, refunds and
 * the T+1 statement file with its SM3 digest (all inherited), plus signing, sign status, unsigning and the
 * password-free debit within a per-patient limit.
 *
 * The signing page (`GET /sim/credit/sign/{token}`) stands in for the bank's H5: "同意签约" or "取消" posts
 * the form and redirects to the return URL with `signRequestNo` and `result=SUCCESS|CANCELLED`.
 *
 * Control API (unsigned, loopback only):
 * - `POST /sim/credit/limits` `{ userRef, limitFen }` the limit a patient gets when signing (default 300000)
 * - `POST /sim/credit/debits` `{ outcome?: 'success'|'decline', notify?: 'deliver'|'drop'|'duplicate'|'delay', delayMs?, settleMs? }`
 *   how the next debits end (a debit over the available limit is refused OVER_LIMIT at once)
 * - `GET  /sim/credit/agreements/{userRef}` the bank's view of a patient's agreement
 * - `POST /sim/credit/faults` `{ op: 'debit'|'sign_query'|'query'|'refund'|'statement'|'any'|<method>, fault: 'timeout'|'late_reply'|'system_error'|'drop', count? }`
 * - `POST /sim/credit/refunds`, `POST /sim/credit/statements`, `GET /sim/credit/orders/{outTradeNo}`,
 *   `POST /sim/credit/orders/{outTradeNo}/resend` as the bank gateway's `/sim/bankpay/...` calls
 */

const CREDIT_METHODS = new Set(['credit.signpage', 'credit.signquery', 'credit.unsign', 'credit.debit']);
const CREDIT_FAULT_ALIASES: Record<string, string> = {
  debit: 'credit.debit',
  sign_query: 'credit.signquery',
  sign_start: 'credit.signpage',
  unsign: 'credit.unsign',
};
const DEFAULT_LIMIT_FEN = 300_000;

export interface SimCreditAgreement {
  appId: string;
  userRef: string;
  signRequestNo: string;
  token: string;
  returnUrl: string;
  status: 'SIGNING' | 'SIGNED' | 'UNSIGNED' | 'FAILED';
  agreementNo?: string;
  limitFen: number;
  signedAt?: Date;
}

type NotifyMode = 'deliver' | 'drop' | 'duplicate' | 'delay';

export class CreditSimulator extends BankPaySimulator {
  /** By sign request number. */
  readonly agreements = new Map<string, SimCreditAgreement>();
  /** Limits per patient (userRef) for the next signing. */
  readonly limits = new Map<string, number>();
  /** outTradeNo → agreementNo of each debit. */
  readonly debitAgreements = new Map<string, string>();
  debitBehaviour: { outcome: 'success' | 'decline'; notify: NotifyMode; delayMs?: number; settleMs: number } =
    { outcome: 'success', notify: 'deliver', settleMs: 100 };

  protected override knownMethod(method: string): boolean {
    return CREDIT_METHODS.has(method) || super.knownMethod(method);
  }

  override injectFault(op: string, fault: Parameters<BankPaySimulator['injectFault']>[1], count = 1) {
    super.injectFault(CREDIT_FAULT_ALIASES[op] ?? op, fault, count);
  }

  /** The patient's current agreement: the latest signed one, else the latest of any state. */
  agreementOf(userRef: string, appId?: string): SimCreditAgreement | undefined {
    const all = [...this.agreements.values()].filter(
      (a) => a.userRef === userRef && (!appId || a.appId === appId),
    );
    return all.filter((a) => a.status === 'SIGNED').at(-1) ?? all.at(-1);
  }

  /** Limit less what is debited (or being debited) and not refunded. */
  availableFen(a: SimCreditAgreement): number {
    let used = 0;
    for (const [outTradeNo, agreementNo] of this.debitAgreements) {
      if (agreementNo !== a.agreementNo) continue;
      const o = this.orders.get(outTradeNo);
      if (!o || !['USERPAYING', 'SUCCESS', 'REFUND'].includes(o.tradeStatus)) continue;
      used += o.amountFen;
      for (const r of this.refunds.values())
        if (r.outTradeNo === outTradeNo && r.refundStatus === 'SUCCESS') used -= r.refundAmountFen;
    }
    return Math.max(0, a.limitFen - used);
  }

  private signView(a: SimCreditAgreement | undefined): Record<string, unknown> {
    if (!a) return { signStatus: 'NOT_SIGNED', limitFen: 0, availableFen: 0 };
    return {
      signRequestNo: a.signRequestNo,
      signStatus: a.status,
      agreementNo: a.agreementNo,
      limitFen: a.status === 'SIGNED' ? a.limitFen : 0,
      availableFen: a.status === 'SIGNED' ? this.availableFen(a) : 0,
      signedAt: a.signedAt?.toISOString(),
    };
  }

  protected override handle(
    method: string,
    env: Record<string, string>,
    merchant: SimBankMerchant,
    b: Record<string, any>,
  ): SimReply {
    const fail = (code: string, message: string) => this.reply(env, code, message);
    const ok = (biz: Record<string, unknown>) => this.reply(env, 'SUCCESS', '成功', biz);
    switch (method) {
      case 'credit.signpage': {
        if (typeof b.signRequestNo !== 'string' || !/^[0-9A-Za-z_-]{6,64}$/.test(b.signRequestNo))
          return fail('PARAM_ERROR', 'signRequestNo 格式错误');
        if (typeof b.userRef !== 'string' || !b.userRef) return fail('PARAM_ERROR', '缺少 userRef');
        if (typeof b.returnUrl !== 'string' || !/^https?:\/\//.test(b.returnUrl))
          return fail('PARAM_ERROR', 'returnUrl 格式错误');
        const current = this.agreementOf(b.userRef, merchant.appId);
        if (current?.status === 'SIGNED') return fail('ALREADY_SIGNED', '该用户已签约');
        let a = this.agreements.get(b.signRequestNo);
        if (!a) {
          a = {
            appId: merchant.appId,
            userRef: b.userRef,
            signRequestNo: b.signRequestNo,
            token: randomBytes(16).toString('hex'),
            returnUrl: b.returnUrl,
            status: 'SIGNING',
            limitFen: this.limits.get(b.userRef) ?? DEFAULT_LIMIT_FEN,
          };
          this.agreements.set(a.signRequestNo, a);
        }
        return ok({ signRequestNo: a.signRequestNo, pageUrl: `${this.url}/sim/credit/sign/${a.token}` });
      }
      case 'credit.signquery': {
        const a =
          typeof b.signRequestNo === 'string'
            ? this.agreements.get(b.signRequestNo)
            : this.agreementOf(String(b.userRef ?? ''), merchant.appId);
        return ok(this.signView(a && a.appId === merchant.appId ? a : undefined));
      }
      case 'credit.unsign': {
        const a = [...this.agreements.values()].find(
          (x) => x.agreementNo === b.agreementNo && x.appId === merchant.appId && x.status === 'SIGNED',
        );
        if (!a) return fail('AGREEMENT_INVALID', '协议不存在或已解约');
        a.status = 'UNSIGNED';
        return ok({ agreementNo: a.agreementNo, signStatus: 'UNSIGNED' });
      }
      case 'credit.debit':
        return this.debit(merchant, b, env);
      default:
        return super.handle(method, env, merchant, b);
    }
  }

  private debit(merchant: SimBankMerchant, b: Record<string, any>, env: Record<string, string>): SimReply {
    const fail = (code: string, message: string) => this.reply(env, code, message);
    if (typeof b.outTradeNo !== 'string' || !/^[0-9A-Za-z_-]{6,32}$/.test(b.outTradeNo))
      return fail('PARAM_ERROR', 'outTradeNo 格式错误');
    if (!Number.isSafeInteger(b.amountFen) || b.amountFen <= 0)
      return fail('PARAM_ERROR', 'amountFen 必须为正整数（分）');
    if (b.currency !== 'CNY') return fail('PARAM_ERROR', 'currency 仅支持 CNY');
    if (typeof b.notifyUrl !== 'string' || !/^https?:\/\//.test(b.notifyUrl))
      return fail('PARAM_ERROR', 'notifyUrl 格式错误');
    const existing = this.orders.get(b.outTradeNo);
    if (existing) {
      if (existing.appId !== merchant.appId || existing.amountFen !== b.amountFen)
        return fail('ORDER_MISMATCH', '商户订单号已用于另一笔交易');
      return this.reply(env, 'SUCCESS', '成功', this.tradeView(existing));
    }
    const a = [...this.agreements.values()].find(
      (x) => x.agreementNo === b.agreementNo && x.appId === merchant.appId && x.status === 'SIGNED',
    );
    if (!a) return fail('AGREEMENT_INVALID', '协议不存在或已解约');
    if (b.amountFen > this.availableFen(a)) return fail('OVER_LIMIT', '超出可用信用额度');
    const o: BankOrder = {
      appId: merchant.appId,
      merchantNo: merchant.merchantNo,
      outTradeNo: b.outTradeNo,
      tradeType: 'CREDIT' as BankOrder['tradeType'],
      amountFen: b.amountFen,
      subject: String(b.subject ?? '信用就医'),
      notifyUrl: b.notifyUrl,
      tradeStatus: 'USERPAYING',
      bankTradeNo: this.id('CR'),
      notificationsSent: 0,
    };
    this.orders.set(o.outTradeNo, o);
    this.debitAgreements.set(o.outTradeNo, a.agreementNo!);
    const { outcome, notify, delayMs, settleMs } = this.debitBehaviour;
    this.later(() => {
      if (o.tradeStatus !== 'USERPAYING') return;
      if (outcome === 'success') return this.settle(o, { payMethod: 'UNIONPAY', notify, delayMs });
      o.tradeStatus = 'PAYERROR';
      o.failCode = 'DEBIT_DECLINED';
      o.lastNotification = { notifyId: this.id('NT'), notifyType: 'TRADE.FAIL', biz: this.tradeView(o) };
      if (notify !== 'drop')
        void this.deliver(o.notifyUrl, o.outTradeNo, o.merchantNo, o.appId, o.lastNotification);
    }, settleMs);
    return this.reply(env, 'SUCCESS', '成功', this.tradeView(o));
  }

  /** The patient agrees (or cancels) on the signing page. */
  finishSigning(token: string, agree: boolean): SimCreditAgreement | undefined {
    const a = [...this.agreements.values()].find((x) => x.token === token);
    if (!a || a.status !== 'SIGNING') return a;
    if (agree && this.agreementOf(a.userRef, a.appId)?.status !== 'SIGNED') {
      a.status = 'SIGNED';
      a.agreementNo = this.id('AG');
      a.signedAt = new Date();
    } else a.status = 'FAILED';
    return a;
  }

  protected override async control(req: SimRequest): Promise<SimReply | undefined> {
    let m: RegExpExecArray | null;
    if ((m = /^\/sim\/credit\/sign\/([0-9a-f]{32})$/.exec(req.path))) {
      if (req.method === 'GET') return this.signPage(m[1]!);
      if (req.method === 'POST') {
        const action = new URLSearchParams(req.body).get('action');
        const a = this.finishSigning(m[1]!, action === 'agree');
        if (!a) return json(404, { code: 'NOT_FOUND', message: 'no such signing' });
        const back = new URL(a.returnUrl);
        back.searchParams.set('signRequestNo', a.signRequestNo);
        back.searchParams.set('result', a.status === 'SIGNED' ? 'SUCCESS' : 'CANCELLED');
        return { status: 302, headers: { location: back.toString() }, body: '' };
      }
    }
    if (!req.path.startsWith('/sim/credit/')) return super.control(req);
    let body: Record<string, any> = {};
    try {
      body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    } catch {
      return json(400, { code: 'PARAM_ERROR', message: 'body is not JSON' });
    }
    if (req.path === '/sim/credit/limits' && req.method === 'POST') {
      if (typeof body.userRef !== 'string' || !Number.isSafeInteger(body.limitFen) || body.limitFen < 0)
        return json(400, { code: 'PARAM_ERROR', message: 'userRef and limitFen (fen) are required' });
      this.limits.set(body.userRef, body.limitFen);
      for (const a of this.agreements.values()) if (a.userRef === body.userRef) a.limitFen = body.limitFen;
      return json(200, { userRef: body.userRef, limitFen: body.limitFen });
    }
    if (req.path === '/sim/credit/debits' && req.method === 'POST') {
      this.debitBehaviour = {
        outcome: body.outcome === 'decline' ? 'decline' : 'success',
        notify: ['drop', 'duplicate', 'delay'].includes(body.notify) ? body.notify : 'deliver',
        delayMs: Number.isSafeInteger(body.delayMs) ? body.delayMs : undefined,
        settleMs: Number.isSafeInteger(body.settleMs) ? body.settleMs : 100,
      };
      return json(200, this.debitBehaviour);
    }
    if ((m = /^\/sim\/credit\/agreements\/([^/]+)$/.exec(req.path)) && req.method === 'GET')
      return json(200, this.signView(this.agreementOf(decodeURIComponent(m[1]!))));
    // The gateway's own controls, under the credit prefix.
    return super.control({ ...req, path: req.path.replace('/sim/credit/', '/sim/bankpay/') });
  }

  /** The bank's signing page (H5), standing in for the real one. */
  private signPage(token: string): SimReply {
    const a = [...this.agreements.values()].find((x) => x.token === token);
    const yuan = (f: number) => `${Math.floor(f / 100)}.${String(f % 100).padStart(2, '0')}`;
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>信用就医签约（沙箱）</title><style>body{font-family:sans-serif;max-width:420px;margin:40px auto;text-align:center}
button{font-size:17px;padding:12px 20px;margin:6px;border:0;border-radius:6px;color:#fff;background:#d7000f}.c{background:#999}</style></head><body>
<h2>银行信用就医 · 沙箱签约</h2>${
      a
        ? `<p>先诊疗后付费：就诊费用在额度内自动扣款，无需每次支付。</p><p>授信额度 ¥${yuan(a.limitFen)}</p><p>状态：${a.status}</p>
<form method="post"><button name="action" value="agree" ${a.status === 'SIGNING' ? '' : 'disabled'}>同意签约</button>
<button class="c" name="action" value="cancel" ${a.status === 'SIGNING' ? '' : 'disabled'}>取消</button></form>`
        : '<p>签约请求不存在</p>'
    }</body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }
}
