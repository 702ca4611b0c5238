// The main package holds the first screen (bills) and login; every other domain is a subpackage, loaded when
// first opened.
export default defineAppConfig({
  pages: ['pages/bills/index', 'pages/login/index'],
  subPackages: [
    { root: 'packages/pay', pages: ['checkout/index', 'result/index'] },
    { root: 'packages/orders', pages: ['index', 'detail'] },
    { root: 'packages/cards', pages: ['index', 'bind'] },
    { root: 'packages/invoices', pages: ['index', 'viewer'] },
    // credit/bank: the bank's signing page (an H5 page) in a web-view, for the mini-program.
    { root: 'packages/credit', pages: ['index', 'bank'] },
    { root: 'packages/messages', pages: ['index'] },
    { root: 'packages/inpatient', pages: ['index'] },
    // insurance/auth: the national platform's authorisation page (an H5 page) in a web-view, for the mini-program;
    // insurance/return: where that page returns to in the H5.
    { root: 'packages/insurance', pages: ['index', 'return', 'auth'] },
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
