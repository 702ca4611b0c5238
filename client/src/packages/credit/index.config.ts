export default definePageConfig({ navigationBarTitleText: '信用就医', enablePullDownRefresh: true });
