import { Text, View } from '@tarojs/components';
import type { InsuranceOrderView, PatientOrderDetail } from '@hp/shared';
import { useEffect, useState } from 'react';
import { InsuranceSplitCard } from '../../components/InsuranceSplitCard';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api } from '../../lib/app';
import { beijingTime, CHANNEL_TEXT, ORDER_STATUS_TEXT, REFUND_STATUS_TEXT } from '../../lib/labels';
import { go, PAGES, usePageParams } from '../../lib/nav';
import { outcomeOf } from '../../lib/poll';
import { useLoad } from '../../lib/use-load';
import { Button } from '../../ui/nut';

/**
 * 订单详情: the bills paid, the payment, the medical-insurance split when the order has one, refunds with their
 * status, and the e-invoices of a paid order.
 */
export default function OrderDetailPage() {
  const params = usePageParams();
  const id = params.id ?? '';
  const order = useLoad(() => api.get<PatientOrderDetail>(`/api/orders/${encodeURIComponent(id)}`));
  // The insurance part: the bff answers 404 for a self-pay order, which simply shows none.
  const [ins, setIns] = useState<InsuranceOrderView>();
  useEffect(() => {
    void order.reload();
    setIns(undefined);
    api
      .get<InsuranceOrderView>(`/api/insurance/orders/${encodeURIComponent(id)}`)
      .then(setIns, () => undefined);
  }, [id]);
  const o = order.data;
  return (
    <View className="hp-page">
      <StateView loading={order.loading && !o} error={o ? undefined : order.error} onRetry={order.reload}>
        {o && (
          <>
            <View className="hp-card">
              <View className="hp-row">
                <Text className="hp-title" data-testid="order-status">
                  {ORDER_STATUS_TEXT[o.status]}
                </Text>
                <Money fen={o.amountFen} />
              </View>
              <Text className="hp-muted">订单号 {o.orderNo}</Text>
              <View>
                <Text className="hp-muted">
                  {ins ? '医保 + ' : ''}
                  {CHANNEL_TEXT[o.channel] ?? o.channel} · 下单 {beijingTime(o.createdAt)}
                  {o.paidAt ? ` · 支付 ${beijingTime(o.paidAt)}` : ''}
                </Text>
              </View>
            </View>
            <View className="hp-card">
              <Text className="hp-title">缴费项目</Text>
              {o.bills.map((b) => (
                <View className="hp-item hp-row" key={b.id}>
                  <Text>
                    {b.title}
                    {b.department ? ` · ${b.department}` : ''}
                  </Text>
                  <Money fen={b.amountFen} />
                </View>
              ))}
            </View>
            {ins && <InsuranceSplitCard split={ins.split} orderId={ins.orderId} />}
            {o.refunds.length > 0 && (
              <View className="hp-card" data-testid="refunds">
                <View className="hp-row">
                  <Text className="hp-title">退款</Text>
                  <Text className="hp-muted">已退 </Text>
                  <Money fen={o.refundedFen} />
                </View>
                {o.refunds.map((r) => (
                  <View className="hp-item" key={r.refundNo}>
                    <View className="hp-row">
                      <Text>{REFUND_STATUS_TEXT[r.status] ?? r.status}</Text>
                      <Money fen={r.amountFen} />
                    </View>
                    <Text className="hp-muted">
                      {r.method === 'CASH' ? '窗口现金退款' : '原路退回'} · {r.reason} ·{' '}
                      {beijingTime(r.succeededAt ?? r.createdAt)}
                    </Text>
                  </View>
                ))}
              </View>
            )}
            <View className="hp-links">
              {outcomeOf(o.status) === 'success' && (
                <Button
                  className="hp-invoices"
                  type="primary"
                  onClick={() => go(PAGES.invoices, { id: o.id })}
                >
                  电子票据
                </Button>
              )}
              {outcomeOf(o.status) === 'pending' && (
                <Button
                  className="hp-to-result"
                  type="primary"
                  onClick={() => go(PAGES.result, { id: o.id })}
                >
                  查看支付结果
                </Button>
              )}
            </View>
          </>
        )}
      </StateView>
    </View>
  );
}
