import Taro from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type {
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
import { sumFen } from '../../../lib/money';
import { PAGES, pageUrl, replace, usePageParams } from '../../../lib/nav';
import { useLoad } from '../../../lib/use-load';
import { payOptions, type PayOption } from '../../../pay/options';
import { requestPayment } from '../../../pay/request-payment';
import { payReturnUrl, surface } from '../../../platform';
import { Button, Checkbox } from '../../../ui/nut';

interface CheckoutData {
  bills: PatientBill[];
  options: PayOption[];
  sandboxWechatPayUrl?: string;
  /** From a slip: the hospital and the masked patient it names. */
  slip?: Pick<SlipView, 'hospital' | 'patient'>;
}

/**
 * 确认缴费: choose the bills, the way to pay (only when more than one fits), then the order is created with
 * bill ids only — the amount is the server's — under one Idempotency-Key per attempt, and handed to the
 * payment sheet. Opened from the bill list (`bills=id,…`) or from a slip's QR code (`t=token`, after login).
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
    const [channels, opts] = await Promise.all([
      api.get<PatientChannels>('/api/patient/channels'),
      loginOptions(),
    ]);
    const options = payOptions(surface(), channels.channels, {
      hasOpenId: session.get()?.method === 'wechat',
      sandbox: opts.sandbox,
    });
    return { bills: bills.filter(isPayable), options, sandboxWechatPayUrl: opts.sandboxWechatPayUrl, slip };
  });
  useEffect(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(here) });
    else void data.reload();
  }, []);

  const [chosen, setChosen] = useState<Set<string>>();
  const [option, setOption] = useState(0);
  const [paying, setPaying] = useState(false);
  const [error, setError] = useState<string>();
  // One key per attempt: the same submission retried is answered with the same order.
  const key = useRef<string>();
  const selected = useMemo(
    () => (data.data?.bills ?? []).filter((b) => (chosen ? chosen.has(b.id) : true)),
    [data.data, chosen],
  );
  const toggle = (id: string) => {
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
          {d?.options.length === 0 && <Text className="hp-error">当前环境没有可用的支付方式</Text>}
          {d && d.options.length === 1 && (
            <View className="hp-item">
              <Text>{d.options[0]!.label}</Text>
            </View>
          )}
          {d &&
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
        {error && (
          <View className="hp-banner hp-error" data-testid="pay-error">
            {error}
          </View>
        )}
        <View className="hp-footer">
          <View>
            <Text className="hp-muted">合计 </Text>
            <Money fen={sumFen(selected.map((b) => b.amountFen))} className="hp-total" />
          </View>
          <Button
            className="hp-pay"
            type="primary"
            loading={paying}
            disabled={paying || selected.length === 0 || !d?.options.length}
            onClick={pay}
          >
            确认支付
          </Button>
        </View>
      </StateView>
    </View>
  );
}
