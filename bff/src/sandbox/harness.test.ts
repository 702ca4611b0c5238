import { startSandbox } from './index';
import { assertSandboxAllowed } from './harness';
import { generateSandboxKeys } from './keys';

describe('sandbox guard', () => {
  it('refuses to start any simulator with NODE_ENV=production', async () => {
    expect(() => assertSandboxAllowed('production')).toThrow(/cannot start with NODE_ENV=production/);
    expect(() => assertSandboxAllowed('development')).not.toThrow();
    await expect(
      startSandbox(
        { nodeEnv: 'production', sandboxPorts: { wechatpay: 0, his: 0, alipay: 0, bankpay: 0 } },
        generateSandboxKeys([]),
      ),
    ).rejects.toThrow(/NODE_ENV=production/);
  });
});
