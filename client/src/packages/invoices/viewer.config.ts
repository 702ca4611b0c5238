export default definePageConfig({ navigationBarTitleText: '票据查看' });
