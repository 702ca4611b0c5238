import { Text } from '@tarojs/components';
import { yuanLabel, type FenLike } from '../lib/money';

/** An amount in yuan, from integer fen, by string arithmetic. */
export function Money(p: { fen: FenLike; className?: string }) {
  return <Text className={`hp-money ${p.className ?? ''}`}>{yuanLabel(p.fen)}</Text>;
}
