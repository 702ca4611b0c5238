import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { WechatPayV3Channel, type WechatPayOptions } from '../../bff/src/channels/wechatpay/adapter';
import type { OutboundCall } from '../../bff/src/channels/types';
import { startSandbox, type Sandbox } from '../../bff/src/sandbox';
import { testKeys } from '../support/platform';

const tls = (f: string) => readFileSync(path.join(__dirname, '../fixtures/tls', f), 'utf8');

/**
 * WeChat's `secapi` calls (reverse) and the comments download demand the merchant API certificate as a TLS
 * client certificate. An https front in the shape of api.mch.weixin.qq.com forwards to the simulator and
 * refuses those paths unless a certificate from the merchant CA was presented; other paths need none.
 */
describe('WeChat Pay v2 mutual TLS', () => {
  let sandbox: Sandbox;
  let front: Server;
  let baseUrl: string;
  const seen: { path: string; clientCn: string | null }[] = [];

  beforeAll(async () => {
    sandbox = await startSandbox(
      { nodeEnv: 'test', sandboxPorts: { wechatpay: 0, his: 0, alipay: 0, bankpay: 0 } },
      testKeys(),
    );
    const upstream = new URL(sandbox.wechat.url);
    front = createServer(
      {
        key: tls('server.key'),
        cert: tls('server.pem'),
        ca: tls('ca.pem'),
        requestCert: true,
        rejectUnauthorized: false, // v3 calls carry no client certificate; secapi paths are checked below
      },
      (req, res) => {
        const sock = req.socket as TLSSocket;
        const cn = sock.authorized ? String(sock.getPeerCertificate().subject?.CN ?? '') : null;
        seen.push({ path: req.url ?? '', clientCn: cn });
        if (/\/secapi\/|\/billcommentsp\//.test(req.url ?? '') && !cn) {
          res.writeHead(400, { 'content-type': 'text/xml' });
          res.end('<xml><return_code>FAIL</return_code><return_msg>证书错误</return_msg></xml>');
          return;
        }
        const up = httpRequest(
          {
            host: upstream.hostname,
            port: upstream.port,
            path: req.url,
            method: req.method,
            headers: req.headers,
          },
          (r) => {
            res.writeHead(r.statusCode ?? 502, r.headers);
            r.pipe(res);
          },
        );
        req.pipe(up);
      },
    );
    await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
    baseUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}/`;
  });
  afterAll(async () => {
    await new Promise((r) => front?.close(r));
    await sandbox?.close();
  });

  function adapter(withCert: boolean, calls: OutboundCall[] = []) {
    const k = sandbox.keys.hospitals.H001!.wechat;
    const opts: WechatPayOptions = {
      mchId: k.mchId,
      appId: k.appId,
      serialNo: k.serialNo,
      privateKeyPem: k.privatePem,
      apiV3Key: k.apiV3Key,
      apiV2Key: k.apiV2Key,
      platformKeyId: sandbox.keys.wechatPlatform.keyId,
      platformPublicKeyPem: sandbox.keys.wechatPlatform.publicPem,
      baseUrl,
      timeoutMs: 5000,
      tlsCaPem: tls('ca.pem'),
      ...(withCert ? { apiClientCertPem: tls('client.pem'), apiClientKeyPem: tls('client.key') } : {}),
    };
    return new WechatPayV3Channel(opts, (c) => void calls.push(c));
  }
  const micropay = (a: WechatPayV3Channel, orderNo: string) =>
    a.createPayment({
      orderNo,
      amountFen: 2345,
      description: '门诊缴费',
      tradeType: 'MICROPAY',
      expiresAt: new Date(Date.now() + 60_000),
      notifyUrl: 'https://example.invalid/notify',
      clientIp: '10.1.2.3',
      authCode: '134200000000000001', // USERPAYING; the patient never confirms
    });

  it('presents the merchant certificate on reverse and on the comments download, and not elsewhere', async () => {
    const a = adapter(true);
    expect(a.capabilities.tradeTypes).toContain('MICROPAY');
    expect(a.capabilities.reverse).toBe(true);
    const orderNo = `MT${Date.now()}`;
    expect((await micropay(a, orderNo)).result).toBe('PENDING');
    expect(await a.reversePayment(orderNo)).toMatchObject({ result: 'SUCCESS' });
    expect(sandbox.wechat.orders.get(orderNo)?.trade_state).toBe('REVOKED');
    const now = new Date();
    const page = await a.pullComments({ from: new Date(now.getTime() - 3600_000), to: now });
    expect(page.result).toBe('SUCCESS');
    const cnOf = (re: RegExp) => seen.filter((x) => re.test(x.path)).map((x) => x.clientCn);
    expect(cnOf(/secapi\/pay\/reverse/)).toEqual(['1900000109']);
    expect(cnOf(/billcommentsp/)).toEqual(['1900000109']);
    // The payment-code call itself goes without the certificate, as WeChat allows.
    expect(cnOf(/\/pay\/micropay/)).toEqual([null]);
  });

  it('without the certificate over https: no payment codes are offered and reverse is not attempted', async () => {
    const calls: OutboundCall[] = [];
    const a = adapter(false, calls);
    expect(a.capabilities.tradeTypes).not.toContain('MICROPAY');
    expect(a.capabilities.reverse).toBe(false);
    expect(a.canPullComments).toBe(false);
    expect(await a.reversePayment('MT-NONE')).toMatchObject({ result: 'FAIL', errorCode: 'UNSUPPORTED' });
    expect((await micropay(a, `MT${Date.now()}x`)).errorCode).toBe('UNSUPPORTED');
    expect(calls).toEqual([]);
  });

  it('a certificate without its key (or the reverse) is a configuration error', () => {
    expect(
      () =>
        new WechatPayV3Channel({
          ...({} as WechatPayOptions),
          mchId: '1900000109',
          appId: 'wx1',
          serialNo: 'S',
          privateKeyPem: tls('client.key'),
          apiV3Key: 'a'.repeat(32),
          platformKeyId: 'K',
          platformPublicKeyPem: '-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----',
          baseUrl,
          timeoutMs: 1000,
          apiClientCertPem: tls('client.pem'),
        }),
    ).toThrow(/come together/);
  });
});
