import Taro from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import { useEffect, useState } from 'react';
import { loginUrl, session } from '../../lib/app';
import { insuranceMessage } from '../../lib/insurance';
import { completeInsuranceAuth, pendingAuthNext, startInsuranceAuth } from '../../lib/insurance-auth';
import { addQuery, home, PAGES, pageUrl, usePageParams } from '../../lib/nav';
import { Button, Loading } from '../../ui/nut';

/**
 * The national platform's authorisation page returns here (H5: `/h5/insurance/return?authCode=…&state=…`, or
 * `error=cancelled`): the authCode is exchanged with the bff, then back to where the authorisation started
 * (the checkout, with 医保支付 chosen). In the mini-program the web-view page does this itself (`via=weapp`).
 */
export default function InsuranceReturnPage() {
  const params = usePageParams();
  const embedded = params.via === 'weapp';
  const [state, setState] = useState<{ busy: boolean; message?: string; next?: string }>({
    busy: !embedded,
  });
  useEffect(() => {
    if (embedded) return;
    if (!session.get()) {
      const here = pageUrl(PAGES.insuranceReturn, params);
      return void Taro.redirectTo({ url: loginUrl(here) });
    }
    completeInsuranceAuth(params).then(
      (r) => {
        const next = r.next ?? PAGES.insurance;
        // Back to the checkout with 医保支付 chosen (the 医保授权 page shows the standing either way).
        if (r.kind === 'authorized') return void Taro.redirectTo({ url: addQuery(next, { ins: '1' }) });
        if (r.kind === 'cancelled') return void Taro.redirectTo({ url: addQuery(next, { ins: '1' }) });
        setState({ busy: false, message: r.message, next });
      },
      (e: unknown) => setState({ busy: false, message: insuranceMessage(e), next: pendingAuthNext() }),
    );
  }, []);

  const again = async () => {
    setState({ ...state, busy: true });
    try {
      await startInsuranceAuth(state.next ?? PAGES.insurance);
    } catch (e) {
      setState({ ...state, busy: false, message: insuranceMessage(e) });
    }
  };
  return (
    <View className="hp-page">
      <View className="hp-card hp-state" data-testid="insurance-return">
        {state.busy && <Loading />}
        <View className="hp-status hp-status-pending">
          {embedded ? '授权已提交，请返回小程序' : state.busy ? '正在完成医保授权…' : '医保授权未完成'}
        </View>
        {state.message && <Text className="hp-error">{state.message}</Text>}
      </View>
      {!state.busy && !embedded && (
        <View className="hp-links">
          <Button className="hp-ins-again" type="primary" onClick={again}>
            重新授权
          </Button>
          {state.next && (
            <Button className="hp-ins-back" onClick={() => Taro.redirectTo({ url: state.next! })}>
              返回缴费
            </Button>
          )}
          <Button className="hp-home" onClick={home}>
            返回首页
          </Button>
        </View>
      )}
    </View>
  );
}
