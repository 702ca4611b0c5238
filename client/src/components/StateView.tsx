import { Text, View } from '@tarojs/components';
import type { ReactNode } from 'react';
import { Button, Loading } from '../ui/nut';

/** Loading, error (with retry) and empty states, the same on every page. */
export function StateView(p: {
  loading: boolean;
  error?: string;
  empty?: string;
  onRetry?: () => void;
  children?: ReactNode;
}) {
  if (p.error)
    return (
      <View className="hp-state" data-testid="state-error">
        <Text className="hp-error">{p.error}</Text>
        {p.onRetry && (
          <View style={{ marginTop: '16px' }}>
            <Button className="hp-retry" type="primary" fill="outline" onClick={p.onRetry}>
              重试
            </Button>
          </View>
        )}
      </View>
    );
  if (p.loading)
    return (
      <View className="hp-state" data-testid="state-loading">
        <Loading>加载中…</Loading>
      </View>
    );
  if (p.empty)
    return (
      // Our own empty state: NutUI's Empty draws a picture from a CDN, which hospital networks may not reach.
      <View className="hp-state hp-empty" data-testid="state-empty">
        <Text className="hp-muted">{p.empty}</Text>
      </View>
    );
  return <>{p.children}</>;
}
