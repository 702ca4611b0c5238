import { Text, View } from '@tarojs/components';
import type { InsuranceOrderView, InsuranceStatus } from '@hp/shared';
import { InsuranceSplitCard } from '../../../components/InsuranceSplitCard';
import { Money } from '../../../components/Money';
import { insutypeText, type InsuranceOffer } from '../../../lib/insurance';
import { go, PAGES } from '../../../lib/nav';
import { Button, Checkbox } from '../../../ui/nut';

const AUTHORIZE_NOTE =
  '使用医保支付前，需要在国家医保服务平台授权本院使用您的医保电子凭证。授权后可查看医保报销金额，' +
  '个人自付部分用微信支付。';

/**
 * The 医保支付 part of the checkout: the prompt to authorise (or pay self-pay), the insured person with the
 * personal-account balance, the quote's split, and what went wrong. The page holds the state and the actions;
 * the main action (去授权 / 获取医保报销金额 / 确认支付) is the footer's button.
 */
export function InsuranceCard(p: {
  offer: InsuranceOffer;
  status?: InsuranceStatus;
  balance?: { fen?: number; error?: string };
  useAccount: boolean;
  onUseAccount: (v: boolean) => void;
  quote?: InsuranceOrderView;
  error?: string;
  refused?: boolean;
  busy: boolean;
  onSelfPay: () => void;
  onCancelQuote: () => void;
}) {
  const st = p.status;
  return (
    <>
      {p.offer.kind === 'authorize' && (
        <View className="hp-card" data-testid="insurance">
          <Text className="hp-title">医保支付</Text>
          <View className="hp-banner hp-ins-authorize-note" style={{ marginTop: '16px' }}>
            {AUTHORIZE_NOTE}
          </View>
          <View className="hp-links" style={{ marginBottom: 0 }}>
            <Button className="hp-ins-selfpay" size="small" disabled={p.busy} onClick={p.onSelfPay}>
              不授权，自费支付
            </Button>
          </View>
        </View>
      )}
      {p.offer.kind === 'ready' && st && (
        <View className="hp-card" data-testid="insurance">
          <View className="hp-row">
            <Text className="hp-title">医保支付</Text>
            <Text className="hp-muted hp-ins-info" onClick={() => go(PAGES.insurance)}>
              医保授权 ›
            </Text>
          </View>
          <View className="hp-row hp-item">
            <Text className="hp-muted">参保人</Text>
            <Text className="hp-ins-name">
              {st.nameMasked ?? ''} {st.idNoMasked ?? ''}
            </Text>
          </View>
          {st.insutype && (
            <View className="hp-row hp-item">
              <Text className="hp-muted">险种</Text>
              <Text>{insutypeText(st.insutype)}</Text>
            </View>
          )}
          <View className="hp-row hp-item">
            <Text className="hp-muted">个人账户余额</Text>
            {p.balance?.fen !== undefined ? (
              <Money fen={p.balance.fen} className="hp-ins-balance" />
            ) : (
              <Text className="hp-muted">{p.balance?.error ? '暂时无法查询' : '查询中…'}</Text>
            )}
          </View>
          <View className="hp-item">
            <Checkbox
              className="hp-ins-use-account"
              checked={p.useAccount}
              disabled={Boolean(p.quote) || p.busy}
              label="使用个人账户支付自付部分"
              onChange={(v: boolean) => p.onUseAccount(v)}
            />
          </View>
          {!p.quote && (
            <View>
              <Text className="hp-muted">
                点击“获取医保报销金额”，医院将费用明细上传医保平台计算报销金额。
              </Text>
            </View>
          )}
        </View>
      )}
      {p.quote && (
        <InsuranceSplitCard split={p.quote.split} title="医保报销明细" orderId={p.quote.orderId}>
          <View className="hp-item">
            <Text className="hp-muted">确认后医保部分立即结算，个人现金部分用微信支付。</Text>
          </View>
          <View className="hp-links" style={{ marginBottom: 0 }}>
            <Button className="hp-ins-cancel" size="small" disabled={p.busy} onClick={p.onCancelQuote}>
              取消
            </Button>
          </View>
        </InsuranceSplitCard>
      )}
      {p.error && (
        <View className="hp-banner hp-error hp-ins-error" data-testid="insurance-error">
          <View>
            <Text>{p.error}</Text>
          </View>
          {p.refused && (
            <View className="hp-links" style={{ marginTop: '12px', marginBottom: 0 }}>
              <Button className="hp-ins-selfpay" size="small" type="primary" onClick={p.onSelfPay}>
                改用自费支付
              </Button>
            </View>
          )}
        </View>
      )}
    </>
  );
}
