export default definePageConfig({ navigationBarTitleText: '绑定就诊卡' });
