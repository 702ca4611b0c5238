export default definePageConfig({ navigationBarTitleText: '医保移动支付授权' });
