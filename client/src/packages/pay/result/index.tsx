import { Image, Text, View } from '@tarojs/components';
import type { PatientOrderDetail } from '@hp/shared';
import { useEffect, useRef, useState } from 'react';
import { Money } from '../../../components/Money';
import { api, loginOptions, session } from '../../../lib/app';
import { messageOf } from '../../../lib/api';
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
 * paying: the patient can resume the same order (its bills are held by it) or come back later.
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
  const left = useRef(false);

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
  };
  useEffect(() => {
    // Desktop: the order's QR code (an image of the patient API, fetched with the session).
    if (hint === 'qr')
      void sessionFile(`/api/orders/${encodeURIComponent(id)}/qr`, session.get()?.token ?? '').then(
        setQr,
        () => setError('二维码暂时无法获取，请刷新重试'),
      );
    void poll();
    return () => {
      left.current = true;
    };
  }, [id]);

  const resume = async () => {
    if (!order?.pay) return;
    const opts = await loginOptions().catch(() => undefined);
    const r = await requestPayment({
      order,
      sandboxWechatPayUrl: opts?.sandboxWechatPayUrl,
      returnUrl: payReturnUrl(order.id),
    });
    if (r.outcome !== 'redirected') void replace(PAGES.result, { id: order.id, hint: r.outcome });
  };

  const outcome = order ? outcomeOf(order.status) : undefined;
  let title: string;
  let note = '';
  if (!order) title = error ? '查询失败' : '正在确认支付结果…';
  else if (outcome !== 'pending') title = TITLES[outcome!];
  else if (hint === 'cancelled') {
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
  if (outcome === 'failed') note = '订单已关闭，费用未扣除，可返回重新缴费。';
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
      <View className="hp-links">
        {outcome === 'pending' && order?.pay && (!polling || !fromSheet) && (
          <Button className="hp-resume-pay" type="primary" onClick={resume}>
            继续支付
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
