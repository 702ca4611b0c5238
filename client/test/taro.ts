/**
 * A small stand-in for @tarojs/taro in jsdom: storage in a Map, navigation recorded, and the WeChat APIs the
 * app calls as jest mocks a test sets up. Only what the app and NutUI use.
 */
const storage = new Map<string, unknown>();
export const calls = { navigate: [] as string[] };

const Taro = {
  getStorageSync: (k: string) => storage.get(k) ?? '',
  setStorageSync: (k: string, v: unknown) => void storage.set(k, v),
  removeStorageSync: (k: string) => void storage.delete(k),
  clearStorageSync: () => storage.clear(),
  navigateTo: jest.fn(async ({ url }: { url: string }) => void calls.navigate.push(url)),
  redirectTo: jest.fn(async ({ url }: { url: string }) => void calls.navigate.push(url)),
  reLaunch: jest.fn(async ({ url }: { url: string }) => void calls.navigate.push(url)),
  request: jest.fn(),
  requestPayment: jest.fn(),
  requestSubscribeMessage: jest.fn(async () => ({ errMsg: 'requestSubscribeMessage:ok' })),
  navigateBack: jest.fn(async () => undefined),
  showModal: jest.fn(async () => ({ confirm: true, cancel: false })),
  showToast: jest.fn(async () => undefined),
  stopPullDownRefresh: jest.fn(),
  login: jest.fn(async () => ({ code: 'test-code' })),
  downloadFile: jest.fn(),
  openDocument: jest.fn(),
  getEnv: () => 'WEB',
  ENV_TYPE: { WEAPP: 'WEAPP', WEB: 'WEB' },
  getSystemInfoSync: () => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2, platform: 'devtools' }),
  getWindowInfo: () => ({ windowWidth: 375, windowHeight: 667, pixelRatio: 2 }),
  createSelectorQuery: () => ({
    select: () => ({ boundingClientRect: () => ({ exec: (cb?: (r: unknown[]) => void) => cb?.([]) }) }),
    selectAll: () => ({ boundingClientRect: () => ({ exec: (cb?: (r: unknown[]) => void) => cb?.([]) }) }),
  }),
  nextTick: (fn: () => void) => setTimeout(fn, 0),
  pxTransform: (n: number) => `${n}px`,
};

export const useRouter = () => ({ params: {} as Record<string, string> });
export const useDidShow = (fn: () => void) => {
  const { useEffect } = require('react') as typeof import('react');
  useEffect(() => fn(), []);
};
export const usePullDownRefresh = () => undefined;
export const useReady = () => undefined;
export default Taro;

// NutUI imports the APIs by name.
export const {
  getEnv,
  ENV_TYPE,
  getSystemInfoSync,
  getWindowInfo,
  createSelectorQuery,
  nextTick,
  pxTransform,
  getStorageSync,
  setStorageSync,
  request,
  showModal,
  showToast,
} = Taro;
