import Taro from '@tarojs/taro';
import { WebView } from '@tarojs/components';
import { usePageParams } from '../../lib/nav';
import { creditReturnUrl } from '../../platform';

/**
 * 银行签约 (mini-program): the bank's signing page is an H5 page, shown in a web-view. When the bank sends the
 * patient to the return address, the page closes and 信用就医 asks the bank for the status again on show.
 */
export default function CreditBankPage() {
  const params = usePageParams();
  const back = creditReturnUrl();
  const onLoad = (e: { detail: { src: string } }) => {
    if (e.detail.src.startsWith(back)) void Taro.navigateBack();
  };
  return params.url ? <WebView src={params.url} onLoad={onLoad} /> : null;
}
