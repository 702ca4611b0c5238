import { Image, Text, View } from '@tarojs/components';
import type { InsuranceOrderView, PatientOrderDetail } from '@hp/shared';
import { useEffect, useRef, useState } from 'react';
import { InsuranceSplitCard } from '../../../components/InsuranceSplitCard';
import { Money } from '../../../components/Money';
import { api, loginOptions, session } from '../../../lib/app';
import { messageOf } from '../../../lib/api';
import { insuranceMessage } from '../../../lib/insurance';
import { handOnInsuranceOrder, payInsuranceQuote } from '../../../lib/insurance-pay';
import { home, PAGES, replace, usePageParams } from '../../../lib/nav';
import { outcomeOf, pollOrder } from '../../../lib/poll';
import { requestPayment } from '../../../pay/request-payment';
import type { PayResult } from '../../../pay/types';
import { payReturnUrl, sessionFile } from '../../../platform';
import { Button, Loading } from '../../../ui/nut';

/** A QR code is scanned at the patient's pace: polled every 3 s for its lifetime (15 minutes). */
const QR_POLL_DELAYS_MS = Array.from({ length: 300 }, () => 3000);

const TITLES = {
  success: '支付成功',
  failed: '支付未成功',
  abnormal: '支付异常',
} as const;

/**
 * 支付结果: whatever the payment sheet said (`hint`), the order is asked until it is final. Cancelled or still
 * paying: the patient can resume the same order (its bills are held by it) or come back later. An order with an
 * insurance part shows its split, and resumes its own cash part (or WeChat's insurance sheet).
 */
export default function ResultPage() {
  const params = usePageParams();
  const id = params.id ?? '';
  const hint = params.hint as PayResult['outcome'] | undefined;
  // Back from a payment sheet or cashier: wait for the polls before offering to pay again. Opened from the
  // bill list or an order instead: the patient came to resume, so the button is there at once.
  const fromSheet = Boolean(hint) || params.from === 'cashier';
  const [order, setOrder] = useState<PatientOrderDetail>();
  const [polling, setPolling] = useState(true);
  const [error, setError] = useState<string>();
  const [qr, setQr] = useState<string>();
  // The insurance part, when the order has one (the bff answers 404 for a self-pay order).
  const [ins, setIns] = useState<InsuranceOrderView>();
  const left = useRef(false);
  const insPath = `/api/insurance/orders/${encodeURIComponent(id)}`;
  const loadInsurance = () => api.get<InsuranceOrderView>(insPath).then(setIns, () => undefined);

  const poll = async () => {
    setPolling(true);
    setError(undefined);
    const r = await pollOrder({
      fetch: () => api.get<PatientOrderDetail>(`/api/orders/${encodeURIComponent(id)}`),
      statusOf: (o) => o.status,
      onUpdate: setOrder,
      cancelled: () => left.current,
      // Cancelled on the sheet: one look is enough to confirm nothing was paid.
      delaysMs: hint === 'cancelled' ? [] : hint === 'qr' ? QR_POLL_DELAYS_MS : undefined,
    }).catch((e: unknown) => {
      setError(messageOf(e));
      return undefined;
    });
    if (r && !r.order) setError('暂时无法查询订单，请稍后在“我的订单”中查看');
    setPolling(false);
    await loadInsurance();
  };
  useEffect(() => {
    // Desktop: the order's QR code (an image of the patient API, fetched with the session).
    if (hint === 'qr')
      void sessionFile(`/api/orders/${encodeURIComponent(id)}/qr`, session.get()?.token ?? '').then(
        setQr,
        () => setError('二维码暂时无法获取，请刷新重试'),
      );
    void loadInsurance();
    void poll();
    return () => {
      left.current = true;
    };
  }, [id]);

  const resume = async () => {
    if (!order?.pay && !ins) return;
    const opts = await loginOptions().catch(() => undefined);
    if (ins) {
      // The insurance order's own hand-off: its cash part (not the order's total), or WeChat's insurance sheet;
      // a quote still waiting for 确认支付 is confirmed now.
      const now = await api.get<InsuranceOrderView>(insPath).catch(() => ins);
      const stop =
        now.settlementStatus === 'QUOTED'
          ? await payInsuranceQuote(id, opts?.sandboxWechatPayUrl)
          : await handOnInsuranceOrder(now, opts?.sandboxWechatPayUrl);
      if (stop) {
        await poll();
        setError(stop.message);
      }
      return;
    }
    if (!order?.pay) return;
    const r = await requestPayment({
      order,
      sandboxWechatPayUrl: opts?.sandboxWechatPayUrl,
      returnUrl: payReturnUrl(order.id),
    });
    if (r.outcome !== 'redirected') void replace(PAGES.result, { id: order.id, hint: r.outcome });
  };

  const cancelQuote = async () => {
    setError(undefined);
    await api.post(`${insPath}/cancel`).catch((e: unknown) => setError(insuranceMessage(e)));
    await poll();
  };

  const outcome = order ? outcomeOf(order.status) : undefined;
  // A quote left at checkout (it holds the bills) is confirmed or withdrawn here too.
  const quoted = ins?.settlementStatus === 'QUOTED';
  const resumable = ins ? quoted || Boolean(ins.pay || ins.medicalInsurancePay) : Boolean(order?.pay);
  let title: string;
  let note = '';
  if (!order) title = error ? '查询失败' : '正在确认支付结果…';
  else if (outcome !== 'pending') title = TITLES[outcome!];
  else if (quoted) {
    // A quote waits for the patient, not for a channel.
    title = '医保报销金额待确认';
    note = '确认后医保部分结算、个人现金部分支付；取消后费用可重新选择支付方式。';
  } else if (hint === 'cancelled') {
    title = '支付已取消';
    note = '费用仍为待支付，可继续支付，或返回稍后再付。';
  } else if (hint === 'qr' && polling) {
    title = '请扫码支付';
    note = `请使用${order.channel === 'alipay' ? '支付宝' : '微信'}扫一扫，支付后本页自动更新。`;
  } else if (polling) title = '正在确认支付结果…';
  else {
    title = '暂未收到支付结果';
    note = '如已付款，结果稍后会自动更新；如未完成支付，可继续支付。';
  }
  if (outcome === 'failed')
    note = ins?.error
      ? `${ins.error.replace(/[。.]$/, '')}。如有扣款将自动退回，可返回选择自费支付。`
      : '订单已关闭，费用未扣除，可返回重新缴费。';
  if (outcome === 'abnormal') note = '支付结果与订单不一致，医院会核实处理，请勿重复缴费。';
  return (
    <View className="hp-page">
      <View className="hp-card hp-state" data-testid="result">
        {polling && outcome === 'pending' && <Loading />}
        <View className={`hp-status hp-status-${outcome ?? 'pending'}`} data-testid="result-title">
          {title}
        </View>
        {qr && outcome === 'pending' && (
          <View>
            <Image
              className="hp-qr"
              src={qr}
              mode="scaleToFill"
              style={{ width: '200px', height: '200px' }}
            />
          </View>
        )}
        {order && <Money fen={order.amountFen} />}
        {order && (
          <View>
            <Text className="hp-muted">订单号 {order.orderNo}</Text>
          </View>
        )}
        {note && (
          <View style={{ marginTop: '16px' }}>
            <Text className="hp-muted">{note}</Text>
          </View>
        )}
        {error && <Text className="hp-error">{error}</Text>}
      </View>
      {ins && <InsuranceSplitCard split={ins.split} orderId={ins.orderId} />}
      <View className="hp-links">
        {outcome === 'pending' && resumable && (!polling || !fromSheet) && (
          <Button className="hp-resume-pay" type="primary" onClick={resume}>
            继续支付
          </Button>
        )}
        {outcome === 'pending' && quoted && (!polling || !fromSheet) && (
          <Button className="hp-ins-cancel" onClick={cancelQuote}>
            取消医保报价
          </Button>
        )}
        {outcome === 'pending' && !polling && (
          <Button className="hp-poll-again" onClick={poll}>
            刷新结果
          </Button>
        )}
        {order && (
          <Button className="hp-view-order" onClick={() => replace(PAGES.order, { id: order.id })}>
            查看订单
          </Button>
        )}
        <Button className="hp-home" onClick={home}>
          返回首页
        </Button>
      </View>
    </View>
  );
}
