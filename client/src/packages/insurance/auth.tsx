import Taro from '@tarojs/taro';
import { WebView } from '@tarojs/components';
import { useRef } from 'react';
import { insuranceMessage, queryOf } from '../../lib/insurance';
import { completeInsuranceAuth } from '../../lib/insurance-auth';
import { usePageParams } from '../../lib/nav';
import { insuranceReturnUrl } from '../../platform';

/**
 * 医保移动支付授权 (mini-program): the national platform's authorisation page is an H5 page, shown in a web-view.
 * When it sends the patient to the return address, this page completes the authorisation with the authCode
 * and closes; the page underneath (the checkout, 医保授权) asks for the standing again on show.
 */
export default function InsuranceAuthPage() {
  const params = usePageParams();
  const back = insuranceReturnUrl().split('?')[0]!;
  const done = useRef(false);
  const onLoad = async (e: { detail: { src: string } }) => {
    const src = e.detail.src;
    if (done.current || !src.startsWith(back)) return;
    done.current = true;
    try {
      const r = await completeInsuranceAuth(queryOf(src));
      if (r.kind === 'authorized') await Taro.showToast({ title: '医保授权成功', icon: 'success' });
      else if (r.kind === 'invalid')
        await Taro.showModal({ title: '医保授权未完成', content: r.message, showCancel: false });
    } catch (err) {
      await Taro.showModal({ title: '医保授权未完成', content: insuranceMessage(err), showCancel: false });
    }
    void Taro.navigateBack();
  };
  return params.url ? <WebView src={params.url} onLoad={onLoad} /> : null;
}
