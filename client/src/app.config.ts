// The main package holds the first screen (bills) and login; every other domain is a subpackage, loaded when
// first opened. Credit pay, insurance and messages join as their own subpackages when the bff serves them.
export default defineAppConfig({
  pages: ['pages/bills/index', 'pages/login/index'],
  subPackages: [
    { root: 'packages/pay', pages: ['checkout/index', 'result/index'] },
    { root: 'packages/orders', pages: ['index', 'detail'] },
    { root: 'packages/cards', pages: ['index', 'bind'] },
    { root: 'packages/invoices', pages: ['index', 'viewer'] },
  ],
  preloadRule: {
    'pages/bills/index': { network: 'all', packages: ['packages/pay'] },
  },
  window: {
    backgroundTextStyle: 'dark',
    navigationBarBackgroundColor: '#ffffff',
    navigationBarTitleText: '医院缴费',
    navigationBarTextStyle: 'black',
    backgroundColor: '#f5f6f7',
  },
});
