import { Text, View } from '@tarojs/components';
import type { InsuranceSplitView } from '@hp/shared';
import type { ReactNode } from 'react';
import { splitCard } from '../lib/insurance';

/**
 * 医保结算 split: 医保统筹, 个人账户, 其他, 个人自付（现金） and the total, from integer fen by string arithmetic.
 * Each line carries its fen (`data-fen`) for tests and its key as a class (`hp-ins-fund` …).
 */
export function InsuranceSplitCard(p: {
  split: InsuranceSplitView;
  title?: string;
  /** The order the split belongs to (`data-order-id`). */
  orderId?: string;
  children?: ReactNode;
}) {
  const c = splitCard(p.split);
  return (
    <View className="hp-card hp-ins-split" data-testid="insurance-split" data-order-id={p.orderId}>
      <View className="hp-row">
        <Text className="hp-title">{p.title ?? '医保结算'}</Text>
        <Text className="hp-money hp-ins-total" data-fen={p.split.totalFen}>
          {c.total}
        </Text>
      </View>
      {c.lines.map((l) => (
        <View className={`hp-row hp-item hp-ins-line hp-ins-${l.key}`} key={l.key} data-fen={l.fen}>
          <Text className={l.key === 'cash' ? '' : 'hp-muted'}>{l.label}</Text>
          <Text className={l.key === 'cash' ? 'hp-money' : ''}>{l.text}</Text>
        </View>
      ))}
      <View className="hp-item">
        <Text className="hp-muted">
          医保支付 {c.insurance}，个人现金支付 {c.cash}
        </Text>
      </View>
      {!c.consistent && (
        <View>
          <Text className="hp-error">医保分账与合计不符，请取消后重新获取</Text>
        </View>
      )}
      {p.children}
    </View>
  );
}
