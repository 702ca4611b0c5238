import Taro, { useDidShow, usePullDownRefresh } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { PatientOrdersPage, PatientOrderSummary } from '@hp/shared';
import { useState } from 'react';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api } from '../../lib/app';
import { messageOf } from '../../lib/api';
import { beijingTime, ORDER_STATUS_TEXT } from '../../lib/labels';
import { go, PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { Button } from '../../ui/nut';

/** 我的订单: newest first, a page at a time. */
export default function OrdersPage() {
  const [more, setMore] = useState<{ orders: PatientOrderSummary[]; cursor: string | null }>();
  const [moreError, setMoreError] = useState<string>();
  const first = useLoad(() => api.get<PatientOrdersPage>('/api/patient/orders?limit=20'));
  useDidShow(() => {
    setMore(undefined);
    void first.reload();
  });
  usePullDownRefresh(async () => {
    setMore(undefined);
    await first.reload();
    Taro.stopPullDownRefresh();
  });
  const orders = [...(first.data?.orders ?? []), ...(more?.orders ?? [])];
  const cursor = more ? more.cursor : (first.data?.nextCursor ?? null);
  const loadMore = async () => {
    if (!cursor) return;
    try {
      setMoreError(undefined);
      const p = await api.get<PatientOrdersPage>(`/api/patient/orders?limit=20&cursor=${cursor}`);
      setMore({ orders: [...(more?.orders ?? []), ...p.orders], cursor: p.nextCursor });
    } catch (e) {
      setMoreError(messageOf(e));
    }
  };
  return (
    <View className="hp-page">
      <StateView
        loading={first.loading && !first.data}
        error={first.data ? undefined : first.error}
        empty={first.data && orders.length === 0 ? '暂无订单' : undefined}
        onRetry={first.reload}
      >
        {orders.map((o) => (
          <View className="hp-card hp-order" key={o.id} onClick={() => go(PAGES.order, { id: o.id })}>
            <View className="hp-row">
              <Text className="hp-title">{o.title}</Text>
              <Money fen={o.amountFen} />
            </View>
            <View className="hp-row">
              <Text className="hp-muted">{beijingTime(o.createdAt)}</Text>
              <Text className="hp-order-status">{ORDER_STATUS_TEXT[o.status]}</Text>
            </View>
          </View>
        ))}
        {moreError && <Text className="hp-error">{moreError}</Text>}
        {cursor && (
          <Button className="hp-more" block onClick={loadMore}>
            加载更多
          </Button>
        )}
      </StateView>
    </View>
  );
}
