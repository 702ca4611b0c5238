import Taro, { useDidShow, usePullDownRefresh } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { BillDetail, PatientBillsResponse } from '@hp/shared';
import { useMemo, useState } from 'react';
import { BillGroupCard } from '../../components/BillGroupCard';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api, loginUrl, session } from '../../lib/app';
import { groupByVisit, isPayable } from '../../lib/bills';
import { unreadBadge, type PatientMessageList } from '../../lib/messages';
import { sumFen } from '../../lib/money';
import { go, PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { Button } from '../../ui/nut';

/** 待缴费: the patient's pending bills grouped by visit, with prescription detail; pull down to refresh. */
export default function BillsPage() {
  const s = session.get();
  const bills = useLoad(() => api.get<PatientBillsResponse>('/api/patient/bills'));
  const [unread, setUnread] = useState(0);
  useDidShow(() => {
    const now = session.get();
    if (!now) void Taro.redirectTo({ url: loginUrl(PAGES.bills) });
    else if (!now.patient) void Taro.redirectTo({ url: PAGES.bindCard });
    else {
      void bills.reload();
      // The badge is a hint: a failed count leaves the old one and never blocks the bills.
      api.get<PatientMessageList>('/api/patient/messages').then(
        (m) => setUnread(m.unread),
        () => undefined,
      );
    }
  });
  usePullDownRefresh(async () => {
    await bills.reload();
    Taro.stopPullDownRefresh();
  });
  const groups = useMemo(() => groupByVisit(bills.data?.bills ?? []), [bills.data]);
  const payable = (bills.data?.bills ?? []).filter(isPayable);
  const loadDetail = (id: string) => api.get<BillDetail>(`/api/bills/${id}/detail`);
  return (
    <View className="hp-page">
      <View className="hp-card">
        <View className="hp-row">
          <Text className="hp-title" data-testid="patient-name">
            {s?.patient?.name ?? ''}
          </Text>
          <Text className="hp-muted hp-link-cards" onClick={() => go(PAGES.cards)}>
            切换就诊人 ›
          </Text>
        </View>
        <Text className="hp-muted">{s?.hospital.name}</Text>
      </View>
      <View className="hp-card hp-entries">
        <View className="hp-entry hp-entry-credit" onClick={() => go(PAGES.credit)}>
          <Text className="hp-kind hp-kind-ok">信</Text>
          <Text>信用就医</Text>
        </View>
        <View className="hp-entry hp-entry-messages" onClick={() => go(PAGES.messages)}>
          <Text className="hp-kind hp-kind-info">消</Text>
          <Text>消息</Text>
          {unreadBadge(unread) && (
            <Text className="hp-badge" data-testid="unread-count">
              {unreadBadge(unread)}
            </Text>
          )}
        </View>
        <View className="hp-entry hp-entry-inpatient" onClick={() => go(PAGES.inpatient)}>
          <Text className="hp-kind hp-kind-warn">住</Text>
          <Text>住院押金</Text>
        </View>
      </View>
      <View className="hp-links">
        <Button className="hp-link-orders" size="small" onClick={() => go(PAGES.orders)}>
          我的订单
        </Button>
        <Button className="hp-link-refresh" size="small" onClick={() => bills.reload()}>
          刷新
        </Button>
      </View>
      {bills.data?.hisUnavailable && (
        <View className="hp-banner">医院系统暂时无法连接，以下是已同步的账单，可能不是最新。</View>
      )}
      <StateView
        loading={bills.loading && !bills.data}
        error={bills.data ? undefined : bills.error}
        empty={bills.data && groups.length === 0 ? '暂无待缴费用' : undefined}
        onRetry={bills.reload}
      >
        {groups.map((g) => (
          <BillGroupCard
            key={g.key}
            group={g}
            loadDetail={loadDetail}
            onResume={(b) => go(PAGES.result, { id: b.payingOrderId ?? undefined })}
          />
        ))}
      </StateView>
      {payable.length > 0 && (
        <View className="hp-footer">
          <View>
            <Text className="hp-muted">待缴 {payable.length} 项 </Text>
            <Money fen={sumFen(payable.map((b) => b.amountFen))} />
          </View>
          <Button
            className="hp-go-checkout"
            type="primary"
            onClick={() => go(PAGES.checkout, { bills: payable.map((b) => b.id).join(',') })}
          >
            去缴费
          </Button>
        </View>
      )}
    </View>
  );
}
