export default definePageConfig({ navigationBarTitleText: '银行签约' });
