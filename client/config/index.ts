import path from 'node:path';
import { defineConfig, type UserConfigExport } from '@tarojs/cli';

/**
 * Taro build of the patient app: `weapp` (WeChat mini-program) and `h5` (official-account H5, served by the bff
 * at /h5). Built by scripts/build-client.mjs, which sets HP_CLIENT_OUT (a temporary folder, swapped in when
 * the build is complete) and the build-time constants below.
 */
const env = process.env;
const target = env.TARO_ENV === 'h5' ? 'h5' : 'weapp';
/** shared/ is TypeScript outside the source root: compiled like our own files. */
const shared = path.resolve(__dirname, '..', '..', 'shared', 'src');

export default defineConfig<'webpack5'>(() => {
  const config: UserConfigExport<'webpack5'> = {
    projectName: 'hospital-pay-patient',
    date: '2026-11-23',
    // NutUI is designed at 375 px, our own styles at 750 px.
    designWidth(input) {
      const file = (input as { file?: string } | undefined)?.file?.replace(/\\+/g, '/') ?? '';
      return file.includes('@nutui') ? 375 : 750;
    },
    deviceRatio: { 640: 2.34 / 2, 750: 1, 375: 2, 828: 1.81 / 2 },
    sourceRoot: 'src',
    outputRoot: env.HP_CLIENT_OUT || `dist/${target}`,
    plugins: [],
    defineConstants: {
      // The bff the mini-program calls (the H5 calls its own origin); demo default: the local `npm start`.
      HP_API_BASE: JSON.stringify(target === 'h5' ? '' : env.HP_API_BASE || 'http://127.0.0.1:3000'),
      // The hospital this build serves by default (a slip's QR code names its own).
      HP_HOSPITAL_CODE: JSON.stringify(env.HP_HOSPITAL_CODE || 'H001'),
    },
    // Runtime imports from shared/ name a zod-free module (`@hp/shared/money`); bare `@hp/shared` is for types.
    alias: {
      '@hp/shared': shared,
      // npm nests this plugin under client/ (its optional vite@4 peer clashes with the admin pages' vite), where
      // @tarojs/taro-h5 at the root cannot find its runtime: point every import at the one installed.
      '@tarojs/plugin-framework-react': path.dirname(
        require.resolve('@tarojs/plugin-framework-react/package.json', {
          paths: [path.resolve(__dirname, '..')],
        }),
      ),
    },
    copy: { patterns: [], options: {} },
    framework: 'react',
    compiler: { type: 'webpack5', prebundle: { enable: false } },
    cache: { enable: false },
    mini: {
      compile: { include: [shared] },
      postcss: {
        pxtransform: { enable: true, config: {} },
        cssModules: {
          enable: false,
          config: { namingPattern: 'module', generateScopedName: '[name]__[local]___[hash:base64:5]' },
        },
      },
      // The main package holds only the first screen; domains load as subpackages.
      optimizeMainPackage: { enable: true },
    },
    h5: {
      compile: { include: [shared] },
      publicPath: '/h5/',
      staticDirectory: 'static',
      output: { filename: 'js/[name].[contenthash:8].js', chunkFilename: 'js/[name].[contenthash:8].js' },
      miniCssExtractPluginOption: {
        ignoreOrder: true,
        filename: 'css/[name].[contenthash:8].css',
        chunkFilename: 'css/[name].[contenthash:8].css',
      },
      router: {
        mode: 'browser',
        basename: '/h5',
        // Short paths: the slip QR code opens /h5/checkout?t=….
        customRoutes: {
          '/pages/bills/index': ['/', '/bills'],
          '/pages/login/index': '/login',
          '/packages/pay/checkout/index': '/checkout',
          '/packages/pay/result/index': '/result',
          '/packages/orders/index': '/orders',
          '/packages/orders/detail': '/order',
          '/packages/cards/index': '/cards',
          '/packages/invoices/index': '/invoices',
          '/packages/invoices/viewer': '/invoice',
          // The bank's signing page returns here (/h5/credit?signRequestNo=…&result=…).
          '/packages/credit/index': '/credit',
          '/packages/messages/index': '/messages',
          '/packages/inpatient/index': '/inpatient',
          // The national platform's insurance authorisation page returns to /h5/insurance/return?authCode=….
          '/packages/insurance/index': '/insurance',
          '/packages/insurance/return': '/insurance/return',
          '/packages/insurance/auth': '/insurance/auth',
        },
      },
      postcss: {
        autoprefixer: { enable: true, config: {} },
        cssModules: {
          enable: false,
          config: { namingPattern: 'module', generateScopedName: '[name]__[local]___[hash:base64:5]' },
        },
      },
      esnextModules: ['nutui-react'],
      webpackChain(chain) {
        // Pages are loaded on demand; what several pages share (NutUI, our components) is one chunk loaded
        // once instead of a copy in every page. Named ids let `npm run size` tell the first screen's chunks.
        chain.optimization.merge({ chunkIds: 'named' });
        chain.optimization.splitChunks({
          chunks: 'all',
          maxInitialRequests: 8,
          maxAsyncRequests: 8,
          cacheGroups: {
            default: false,
            defaultVendors: false,
            vendors: { name: 'vendors', test: /[\\/]node_modules[\\/]/, chunks: 'initial', priority: 20 },
            shared: {
              name: 'shared',
              test: /[\\/]node_modules[\\/]/,
              chunks: 'async',
              minChunks: 2,
              priority: 15,
            },
            common: { name: 'common', chunks: 'async', minChunks: 2, priority: 10, reuseExistingChunk: true },
          },
        });
      },
    },
  };
  return config;
});
