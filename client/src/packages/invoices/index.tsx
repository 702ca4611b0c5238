import { Text, View } from '@tarojs/components';
import type { OrderInvoicesResponse } from '@hp/shared';
import { useEffect } from 'react';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api } from '../../lib/app';
import { beijingTime } from '../../lib/labels';
import { go, PAGES, usePageParams } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';

/** 电子票据: the e-invoices the HIS issued for a paid order. */
export default function InvoicesPage() {
  const params = usePageParams();
  const id = params.id ?? '';
  const list = useLoad(() =>
    api.get<OrderInvoicesResponse>(`/api/orders/${encodeURIComponent(id)}/invoices`),
  );
  useEffect(() => {
    void list.reload();
  }, [id]);
  const d = list.data;
  return (
    <View className="hp-page">
      {d?.hisUnavailable && <View className="hp-banner">医院系统暂时无法连接，以下是已获取过的票据。</View>}
      <StateView
        loading={list.loading && !d}
        error={d ? undefined : list.error}
        empty={d && d.invoices.length === 0 ? '医院尚未开具电子票据，请稍后再看' : undefined}
        onRetry={list.reload}
      >
        {d?.invoices.map((i) => (
          <View
            className="hp-card hp-invoice"
            key={i.invoiceNo}
            onClick={() => go(PAGES.invoice, { id, no: i.invoiceNo, type: i.contentType })}
          >
            <View className="hp-row">
              <Text className="hp-title">票据号 {i.invoiceNo}</Text>
              <Money fen={i.amountFen} />
            </View>
            <Text className="hp-muted">
              票据代码 {i.invoiceCode} · {beijingTime(i.issuedAt)} ·{' '}
              {i.contentType === 'application/pdf' ? 'PDF' : '图片'}
            </Text>
          </View>
        ))}
      </StateView>
    </View>
  );
}
