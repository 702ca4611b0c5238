import { Text, View } from '@tarojs/components';
import type { BillDetail, PatientBill } from '@hp/shared';
import { useState } from 'react';
import type { VisitGroup } from '../lib/bills';
import { Money } from './Money';
import { Tag } from '../ui/nut';

/** One visit's bills: department, doctor, each bill with its items, and the prescription detail on demand. */
export function BillGroupCard(p: {
  group: VisitGroup;
  loadDetail: (billId: string) => Promise<BillDetail>;
  onResume?: (bill: PatientBill) => void;
}) {
  const g = p.group;
  return (
    <View className="hp-card hp-visit" data-testid="visit">
      <View className="hp-row">
        <Text className="hp-title">{g.department ?? '门诊'}</Text>
        <Money fen={g.totalFen} />
      </View>
      <Text className="hp-muted">
        {g.doctor ? `${g.doctor} · ` : ''}
        {g.visitNo ? `就诊号 ${g.visitNo}` : '单笔费用'}
      </Text>
      {g.bills.map((b) => (
        <BillRow key={b.id} bill={b} loadDetail={p.loadDetail} onResume={p.onResume} />
      ))}
    </View>
  );
}

function BillRow(p: {
  bill: PatientBill;
  loadDetail: (billId: string) => Promise<BillDetail>;
  onResume?: (bill: PatientBill) => void;
}) {
  const b = p.bill;
  const [detail, setDetail] = useState<BillDetail>();
  const [open, setOpen] = useState(false);
  const [error, setError] = useState<string>();
  const toggle = async () => {
    setOpen(!open);
    if (detail || open) return;
    try {
      setError(undefined);
      setDetail(await p.loadDetail(b.id));
    } catch {
      setError('处方明细暂时无法获取');
    }
  };
  const items = detail?.items ?? b.items.map((i) => ({ ...i, spec: i.spec ?? null, unit: i.unit ?? null }));
  return (
    <View className="hp-item" data-testid="bill">
      <View className="hp-row">
        <Text>{b.title}</Text>
        <Money fen={b.amountFen} />
      </View>
      {b.payingOrderId && (
        <View className="hp-row" onClick={() => p.onResume?.(b)}>
          <Tag type="warning">支付中</Tag>
          <Text className="hp-muted hp-resume">查看支付结果 ›</Text>
        </View>
      )}
      <Text className="hp-muted hp-detail-toggle" onClick={toggle}>
        {open ? '收起明细' : '处方明细 ›'}
      </Text>
      {open && (
        <View data-testid="bill-items">
          {error && <Text className="hp-error">{error}</Text>}
          {detail?.diagnosis && <Text className="hp-muted">诊断：{detail.diagnosis}</Text>}
          {items.map((i, n) => (
            <View className="hp-row" key={n}>
              <Text className="hp-muted">
                {i.name}
                {i.spec ? ` ${i.spec}` : ''} ×{i.quantity}
                {i.unit ?? ''}
              </Text>
              <Money fen={i.amountFen} />
            </View>
          ))}
          {!items.length && !error && <Text className="hp-muted">无明细</Text>}
        </View>
      )}
    </View>
  );
}
