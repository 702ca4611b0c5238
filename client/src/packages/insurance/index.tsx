import Taro, { useDidShow } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { InsuranceStatus } from '@hp/shared';
import { useState } from 'react';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api, loginUrl, session } from '../../lib/app';
import { insuranceMessage, insutypeText } from '../../lib/insurance';
import { startInsuranceAuth } from '../../lib/insurance-auth';
import { beijingTime } from '../../lib/labels';
import { PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { Button, Tag } from '../../ui/nut';

const AUTHORIZE_NOTE =
  '授权后，缴费时可用医保统筹和个人账户支付，个人自付部分用微信支付。授权在国家医保服务平台完成，' +
  '只用于本院就诊人本人的费用。';

interface InsuranceData {
  status: InsuranceStatus;
  /** The personal-account balance, when authorised and the platform answered. */
  balanceFen?: number;
}

/**
 * 医保授权: whether the hospital may use the patient's medical-insurance e-voucher (医保电子凭证), for whom, until
 * when, with the personal-account balance; 授权 / 重新授权 through the national platform's page (asked again on
 * every show, so a return from it shows the new standing).
 */
export default function InsurancePage() {
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const data = useLoad<InsuranceData>(async () => {
    const status = await api.get<InsuranceStatus>('/api/insurance/status');
    if (!status.authorized) return { status };
    const b = await api.get<{ balanceFen: number }>('/api/insurance/balance').catch(() => undefined);
    return { status, balanceFen: b?.balanceFen };
  });
  useDidShow(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(PAGES.insurance) });
    else void data.reload();
  });
  const authorize = async () => {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await startInsuranceAuth(PAGES.insurance);
    } catch (e) {
      setError(insuranceMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const d = data.data;
  const st = d?.status;
  return (
    <View className="hp-page">
      {error && <View className="hp-banner hp-error">{error}</View>}
      <StateView loading={data.loading && !d} error={d ? undefined : data.error} onRetry={data.reload}>
        {st && !st.available && (
          <View className="hp-card" data-testid="insurance-status">
            <Text className="hp-muted">本院暂未开通线上医保支付，请使用自费支付或到窗口结算。</Text>
          </View>
        )}
        {st?.available && (
          <View className="hp-card" data-testid="insurance-status">
            <View className="hp-row">
              <Text className="hp-title">医保电子凭证</Text>
              <Tag type={st.authorized ? 'success' : 'default'}>{st.authorized ? '已授权' : '未授权'}</Tag>
            </View>
            {st.authorized ? (
              <>
                <View className="hp-row hp-item">
                  <Text className="hp-muted">参保人</Text>
                  <Text>
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
                  {d?.balanceFen !== undefined ? (
                    <Money fen={d.balanceFen} className="hp-ins-balance" />
                  ) : (
                    <Text className="hp-muted">暂时无法查询</Text>
                  )}
                </View>
                {st.expiresAt && (
                  <View className="hp-row hp-item">
                    <Text className="hp-muted">授权有效期至</Text>
                    <Text>{beijingTime(st.expiresAt)}</Text>
                  </View>
                )}
              </>
            ) : (
              <View className="hp-item">
                <Text className="hp-muted">{AUTHORIZE_NOTE}</Text>
              </View>
            )}
          </View>
        )}
        {st?.available && (
          <Button className="hp-ins-authorize" type="primary" block loading={busy} onClick={authorize}>
            {st.authorized ? '重新授权' : '去授权'}
          </Button>
        )}
      </StateView>
    </View>
  );
}
