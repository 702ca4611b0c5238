// Runs the simulators as a process of their own: `tsx bff/src/sandbox/serve.ts <keys.json> [wechatPort] [hisPort]`.
// Prints one JSON line `{"wechat":url,"his":url,"alipay":url,"bankpay":url}` when listening. Used by the benchmarks (so the simulated
// channel's CPU is not counted against the bff) and for multi-process setups.
import { readFileSync } from 'node:fs';
import { startSandbox } from './index';
import type { SandboxKeys } from './keys';

async function main() {
  const [keysFile, wechatPort = '0', hisPort = '0'] = process.argv.slice(2);
  if (!keysFile) throw new Error('usage: serve.ts <keys.json> [wechatPort] [hisPort]');
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as SandboxKeys;
  const sandbox = await startSandbox(
    {
      nodeEnv: process.env.NODE_ENV === 'production' ? 'production' : 'development',
      sandboxPorts: { wechatpay: Number(wechatPort), his: Number(hisPort), alipay: 0, bankpay: 0 },
    },
    keys,
  );
  process.stdout.write(
    `${JSON.stringify({ wechat: sandbox.wechat.url, his: sandbox.his.url, alipay: sandbox.alipay.url, bankpay: sandbox.bankpay.url, mispos: sandbox.mispos.url })}\n`,
  );
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('sandbox:', (e as Error).message);
  process.exit(1);
});
