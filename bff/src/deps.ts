import type { Config } from '@hp/config';
import type { ChannelRegistry } from './channels/registry';
import type { Db } from './db/client';
import type { HisClient } from './modules/his/client';
import type { JobQueue } from './jobs/queue';
import type { Clock } from './lib/clock';
import type { Logger } from './lib/logger';
import type { SecretBox } from './lib/secret-box';
import type { Metrics } from './http/metrics';
import type { WechatAuthClient } from './channels/wechat-auth/adapter';
import type { WechatSubscribeClient } from './channels/wechat-subscribe';

/**
 * What services receive: built once by the composition root (app.ts). Tests build it with real
 * PostgreSQL, real adapters and the simulators — never module mocks.
 */
export interface Deps {
  config: Config;
  db: Db;
  clock: Clock;
  log: Logger;
  jobs: JobQueue;
  channels: ChannelRegistry;
  his: HisClient;
  secrets: SecretBox;
  metrics: Metrics;
  /** WeChat login (code2session, OAuth access token). */
  wechatAuth: WechatAuthClient;
  /** WeChat subscription messages (access token, subscribe/send). */
  wechatSubscribe: WechatSubscribeClient;
  /**
   * The base URL channels and the HIS reach us at (known once the server listens when port is 0); WeChat's API
   * and OAuth page (the simulator in the sandbox); the sandbox's WeChat Pay simulator.
   */
  urls: { public: string; wechatApi: string; wechatOpen: string; sandboxWechatPay?: string };
}
