import Taro, { useDidShow } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type {
  InsuranceOrderView,
  InsuranceStatus,
  OrderView,
  PatientBill,
  PatientBillsResponse,
  PatientChannels,
  PatientSession,
  SlipView,
} from '@hp/shared';
import { useEffect, useMemo, useRef, useState } from 'react';
import { Money } from '../../../components/Money';
import { StateView } from '../../../components/StateView';
import { api, loginOptions, loginUrl, session } from '../../../lib/app';
import { ApiError, messageOf } from '../../../lib/api';
import { isPayable } from '../../../lib/bills';
import { newIdempotencyKey } from '../../../lib/idempotency';
import {
  insuranceMessage,
  insuranceOffer,
  quoteFailure,
  splitCard,
  subscribeTemplateIds,
} from '../../../lib/insurance';
import { startInsuranceAuth } from '../../../lib/insurance-auth';
import { payInsuranceQuote } from '../../../lib/insurance-pay';
import { sumFen } from '../../../lib/money';
import { PAGES, pageUrl, replace, usePageParams } from '../../../lib/nav';
import { useLoad } from '../../../lib/use-load';
import { payOptions, type PayOption } from '../../../pay/options';
import { requestPayment } from '../../../pay/request-payment';
import { askSubscribe, payReturnUrl, surface } from '../../../platform';
import { Button, Checkbox } from '../../../ui/nut';
import { InsuranceCard } from './insurance';

interface CheckoutData {
  bills: PatientBill[];
  options: PayOption[];
  sandboxWechatPayUrl?: string;
  /** From a slip: the hospital and the masked patient it names. */
  slip?: Pick<SlipView, 'hospital' | 'patient'>;
  /** 医保: the hospital's and the patient's standing; undefined when it could not be asked (self-pay only). */
  insurance?: InsuranceStatus;
  hasOpenId: boolean;
  /** Subscription-message templates to ask consent for before paying (mini-program). */
  subscribeIds: string[];
}

/** 医保支付 on this page: the quote on screen, and what went wrong (with self-pay offered when it failed). */
interface InsuranceState {
  quote?: InsuranceOrderView;
  error?: string;
  /** The platform refused, or the insurance part failed: self-pay is the way on. */
  refused?: boolean;
}

/**
 * 确认缴费: choose the bills, the way to pay (only when more than one fits), then the order is created with
 * bill ids only — the amount is the server's — under one Idempotency-Key per attempt, and handed to the
 * payment sheet. Opened from the bill list (`bills=id,…`) or from a slip's QR code (`t=token`, after login).
 *
 * 医保支付 (when the hospital takes it, and the cash part can be paid here): authorise on the national
 * platform's page (back with `ins=1`), ask for the quote (the split; the quote holds the bills), then 确认支付:
 * the insurance part is settled and the cash part goes to WeChat Pay (or WeChat's insurance sheet takes both),
 * and the result page asks the order. A refused or failed insurance part offers self-pay. In the mini-program
 * the patient is asked to subscribe to the payment messages first (never in the way of paying).
 */
export default function CheckoutPage() {
  const params = usePageParams();
  const slipToken = params.t;
  const here = pageUrl(PAGES.checkout, { t: slipToken, bills: params.bills });
  const [needCard, setNeedCard] = useState<string>();
  const data = useLoad<CheckoutData>(async () => {
    setNeedCard(undefined);
    let bills: PatientBill[];
    let slip: CheckoutData['slip'];
    if (slipToken) {
      try {
        session.replace(await api.post<PatientSession>('/api/patient/slip-session', { token: slipToken }));
      } catch (e) {
        if (e instanceof ApiError && e.code === 'card_required') setNeedCard(e.message);
        throw e;
      }
      const view = await api.get<SlipView>(`/api/slips/${encodeURIComponent(slipToken)}`);
      bills = view.bills;
      slip = { hospital: view.hospital, patient: view.patient };
    } else {
      const wanted = params.bills ? new Set(params.bills.split(',')) : undefined;
      const res = await api.get<PatientBillsResponse>('/api/patient/bills');
      bills = res.bills.filter((b) => !wanted || wanted.has(b.id));
    }
    const [channels, opts, insurance] = await Promise.all([
      api.get<PatientChannels>('/api/patient/channels'),
      loginOptions(),
      // Self-pay does not depend on it: a bff or hospital without insurance only hides 医保支付.
      api.get<InsuranceStatus>('/api/insurance/status').catch(() => undefined),
    ]);
    const hasOpenId = session.get()?.method === 'wechat';
    const options = payOptions(surface(), channels.channels, { hasOpenId, sandbox: opts.sandbox });
    return {
      bills: bills.filter(isPayable),
      options,
      sandboxWechatPayUrl: opts.sandboxWechatPayUrl,
      slip,
      insurance,
      hasOpenId,
      subscribeIds: subscribeTemplateIds(opts.subscribeTemplates),
    };
  });
  useEffect(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(here) });
    else void data.reload();
  }, []);

  const [chosen, setChosen] = useState<Set<string>>();
  const [option, setOption] = useState(0);
  const [paying, setPaying] = useState(false);
  const [error, setError] = useState<string>();
  const [mode, setMode] = useState<'self' | 'insurance'>(params.ins === '1' ? 'insurance' : 'self');
  const [ins, setIns] = useState<InsuranceState>({});
  const [useAccount, setUseAccount] = useState(true);
  const [balance, setBalance] = useState<{ fen?: number; error?: string }>();
  const [busy, setBusy] = useState(false);
  // One key per attempt: the same submission retried is answered with the same order.
  const key = useRef<string>();
  const selected = useMemo(
    () => (data.data?.bills ?? []).filter((b) => (chosen ? chosen.has(b.id) : true)),
    [data.data, chosen],
  );
  const offer = data.data
    ? insuranceOffer(data.data.insurance, data.data.options, {
        surface: surface(),
        hasOpenId: data.data.hasOpenId,
      })
    : { kind: 'none' as const };
  const insurance = mode === 'insurance' && offer.kind !== 'none';

  const refreshInsurance = async () => {
    const d = data.data;
    if (!d) return;
    const st = await api.get<InsuranceStatus>('/api/insurance/status').catch(() => undefined);
    if (st) data.setData({ ...d, insurance: st });
  };
  // Back from the authorisation web-view (mini-program): the standing may have changed.
  const shown = useRef(false);
  useDidShow(() => {
    if (shown.current && data.data && !ins.quote) void refreshInsurance();
    shown.current = true;
  });
  // The personal-account balance, once authorised (asked of the platform: a failure only hides it).
  useEffect(() => {
    if (!insurance || offer.kind !== 'ready' || balance) return;
    setBalance({});
    api.get<{ balanceFen: number }>('/api/insurance/balance').then(
      (b) => setBalance({ fen: b.balanceFen }),
      (e: unknown) => setBalance({ error: insuranceMessage(e) }),
    );
  }, [insurance, offer.kind]);

  const toggle = (id: string) => {
    // The quote holds the bills it was made for: cancel it to choose again.
    if (ins.quote) return;
    const next = new Set(chosen ?? (data.data?.bills ?? []).map((b) => b.id));
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setChosen(next);
    key.current = undefined;
  };

  const pay = async () => {
    const opt = data.data?.options[option];
    if (!opt || selected.length === 0) return;
    setPaying(true);
    setError(undefined);
    // In the tap's handler, before any network wait (WeChat's rule); its answer never stops the payment.
    await askSubscribe(data.data?.subscribeIds ?? []);
    key.current ??= newIdempotencyKey();
    let order: OrderView;
    try {
      order = await api.post<OrderView>(
        '/api/orders',
        { billIds: selected.map((b) => b.id), channel: opt.channel, tradeType: opt.tradeType },
        { 'Idempotency-Key': key.current },
      );
    } catch (e) {
      setPaying(false);
      // The order exists although the channel did not answer: its result page finds out.
      if (e instanceof ApiError && e.orderId) return void replace(PAGES.result, { id: e.orderId });
      setError(messageOf(e));
      return;
    }
    const r = await requestPayment({
      order,
      sandboxWechatPayUrl: data.data?.sandboxWechatPayUrl,
      returnUrl: payReturnUrl(order.id),
    });
    if (r.outcome === 'redirected') return; // the cashier page returns to the result page
    // `qr`: the result page shows the code to scan while it polls.
    setPaying(false);
    void replace(PAGES.result, { id: order.id, hint: r.outcome });
  };

  /** Runs one insurance action at a time; its error is shown in the insurance card. */
  const act = async (fn: () => Promise<void>) => {
    if (busy) return;
    setBusy(true);
    try {
      await fn();
    } finally {
      setBusy(false);
    }
  };
  const authorize = () =>
    act(async () => {
      setIns({});
      try {
        await startInsuranceAuth(here);
      } catch (e) {
        setIns({ error: insuranceMessage(e) });
      }
    });
  const quote = () =>
    act(async () => {
      if (offer.kind !== 'ready' || selected.length === 0) return;
      setIns({});
      try {
        const q = await api.post<InsuranceOrderView>('/api/insurance/quotes', {
          billIds: selected.map((b) => b.id),
          tradeType: offer.tradeType,
          settleChannel: offer.settleChannel,
          useAccount,
        });
        setIns({ quote: q });
      } catch (e) {
        const f = quoteFailure(e);
        setIns({ error: f.message, refused: f.kind === 'refused' });
        if (f.kind === 'authorize') await refreshInsurance();
      }
    });
  /** Withdraws the quote (the bills are free again); true when there is none left. */
  const dropQuote = async (): Promise<boolean> => {
    const q = ins.quote;
    if (!q) return true;
    try {
      await api.post(`/api/insurance/orders/${encodeURIComponent(q.orderId)}/cancel`);
    } catch (e) {
      // Expired or already withdrawn: nothing is held any more.
      if (!(e instanceof ApiError && (e.code === 'order_not_payable' || e.code === 'not_found'))) {
        setIns({ ...ins, error: insuranceMessage(e) });
        return false;
      }
    }
    setIns({});
    return true;
  };
  const cancelQuote = () => act(async () => void (await dropQuote()));
  const toSelfPay = () =>
    act(async () => {
      if (await dropQuote()) {
        setIns({});
        setMode('self');
      }
    });
  const payInsurance = () =>
    act(async () => {
      const q = ins.quote;
      if (!q) return;
      await askSubscribe(data.data?.subscribeIds ?? []);
      const stop = await payInsuranceQuote(q.orderId, data.data?.sandboxWechatPayUrl);
      if (stop) setIns({ quote: stop.quoted ? q : undefined, error: stop.message, refused: stop.refused });
    });

  if (needCard)
    return (
      <View className="hp-page">
        <View className="hp-banner" data-testid="need-card">
          这张缴费单属于其他就诊人，请先绑定该就诊人的就诊卡后再支付。
        </View>
        <Button
          className="hp-bind-for-slip"
          type="primary"
          block
          onClick={() => Taro.navigateTo({ url: pageUrl(PAGES.bindCard, { next: here }) })}
        >
          绑定就诊卡
        </Button>
      </View>
    );
  const d = data.data;
  return (
    <View className="hp-page">
      <StateView
        loading={data.loading && !d}
        error={d ? undefined : data.error}
        empty={d && d.bills.length === 0 ? '没有可支付的费用（可能已支付或正在支付）' : undefined}
        onRetry={data.reload}
      >
        {d?.slip && (
          <View className="hp-card">
            <Text className="hp-title">{d.slip.hospital}</Text>
            <View>
              <Text className="hp-muted">就诊人 {d.slip.patient}</Text>
            </View>
          </View>
        )}
        <View className="hp-card" data-testid="checkout-bills">
          <Text className="hp-title">选择缴费项目</Text>
          {d?.bills.map((b) => (
            <View className="hp-item hp-row" key={b.id} onClick={() => toggle(b.id)}>
              <Checkbox
                className="hp-bill-check"
                checked={chosen ? chosen.has(b.id) : true}
                label={`${b.title}${b.department ? ` · ${b.department}` : ''}`}
              />
              <Money fen={b.amountFen} />
            </View>
          ))}
        </View>
        <View className="hp-card" data-testid="pay-options">
          <Text className="hp-title">支付方式</Text>
          {offer.kind !== 'none' && (
            <>
              <View
                className="hp-item hp-row hp-mode hp-mode-self"
                onClick={() => mode !== 'self' && toSelfPay()}
              >
                <Checkbox checked={mode === 'self'} label="自费支付" shape="round" />
              </View>
              <View className="hp-item hp-row hp-mode hp-mode-insurance" onClick={() => setMode('insurance')}>
                <Checkbox checked={mode === 'insurance'} label="医保支付" shape="round" />
                <Text className="hp-muted">医保电子凭证，统筹 + 个人账户</Text>
              </View>
            </>
          )}
          {!insurance && d?.options.length === 0 && (
            <Text className="hp-error">当前环境没有可用的支付方式</Text>
          )}
          {!insurance && d && d.options.length === 1 && (
            <View className="hp-item">
              <Text>{d.options[0]!.label}</Text>
            </View>
          )}
          {!insurance &&
            d &&
            d.options.length > 1 &&
            d.options.map((o, i) => (
              <View
                key={`${o.channel}-${o.tradeType}`}
                className={`hp-item hp-row hp-option hp-option-${o.channel}`}
                onClick={() => {
                  setOption(i);
                  key.current = undefined;
                }}
              >
                <Checkbox checked={i === option} label={o.label} shape="round" />
                <Text className="hp-muted">{o.hint}</Text>
              </View>
            ))}
        </View>
        {insurance && d && (
          <InsuranceCard
            offer={offer}
            status={d.insurance}
            balance={balance}
            useAccount={useAccount}
            onUseAccount={setUseAccount}
            quote={ins.quote}
            error={ins.error}
            refused={ins.refused}
            busy={busy}
            onSelfPay={toSelfPay}
            onCancelQuote={cancelQuote}
          />
        )}
        {error && (
          <View className="hp-banner hp-error" data-testid="pay-error">
            {error}
          </View>
        )}
        <View className="hp-footer">
          <View>
            {insurance && ins.quote ? (
              <>
                <Text className="hp-muted">现金支付 </Text>
                <Money fen={ins.quote.split.cashFen} className="hp-total hp-ins-cash-total" />
              </>
            ) : (
              <>
                <Text className="hp-muted">合计 </Text>
                <Money fen={sumFen(selected.map((b) => b.amountFen))} className="hp-total" />
              </>
            )}
          </View>
          {!insurance && (
            <Button
              className="hp-pay"
              type="primary"
              loading={paying}
              disabled={paying || selected.length === 0 || !d?.options.length}
              onClick={pay}
            >
              确认支付
            </Button>
          )}
          {insurance && offer.kind === 'authorize' && (
            <Button
              className="hp-ins-authorize"
              type="primary"
              loading={busy}
              disabled={busy}
              onClick={authorize}
            >
              去授权
            </Button>
          )}
          {insurance && offer.kind === 'ready' && !ins.quote && (
            <Button
              className="hp-ins-quote"
              type="primary"
              loading={busy}
              disabled={busy || selected.length === 0}
              onClick={quote}
            >
              获取医保报销金额
            </Button>
          )}
          {insurance && ins.quote && (
            <Button
              className="hp-ins-pay"
              type="primary"
              loading={busy}
              disabled={busy || !splitCard(ins.quote.split).consistent}
              onClick={payInsurance}
            >
              确认支付
            </Button>
          )}
        </View>
      </StateView>
    </View>
  );
}
