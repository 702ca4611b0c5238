// The simulators of the chaos run, as one process of their own:
// `tsx test/chaos/sims.ts <keys.json> <platformUrl>` prints one JSON line with every simulator's URL and the
// URL of a small "truth" server. The HIS simulator pushes bills to <platformUrl> (the load balancer).
//
// Truth server (loopback, unsigned), what the parties themselves recorded — the chaos run's judge:
// - `GET /truth` every order and refund of WeChat Pay, Alipay and the bank aggregator, and every result the
//   HIS accepted, plus the HIS ledger of today per hospital.
import { readFileSync } from 'node:fs';
import { startSandbox } from '../../bff/src/sandbox';
import { json, startSimServer } from '../../bff/src/sandbox/harness';
import type { SandboxKeys } from '../../bff/src/sandbox/keys';

/** A channel-side order as the judge needs it. */
export interface TruthOrder {
  channel: 'wechatpay' | 'alipay' | 'bankpay';
  orderNo: string;
  amountFen: number;
  state: string;
  /** The channel took the money at some point. */
  paid: boolean;
  /** A payment-code payment reversed/cancelled after it was paid: the money went back by the reverse. */
  returned: boolean;
}

export interface TruthRefund {
  channel: 'wechatpay' | 'alipay' | 'bankpay';
  orderNo: string;
  refundNo: string;
  amountFen: number;
  succeeded: boolean;
}

export interface Truth {
  orders: TruthOrder[];
  refunds: TruthRefund[];
  his: {
    results: { hospital: string; eventId: string; body: Record<string, unknown> }[];
    ledger: Record<
      string,
      {
        records: {
          kind: string;
          channel: string;
          orderNo: string | null;
          refundNo: string | null;
          amountFen: number;
          source: string;
        }[];
      }
    >;
  };
}

const beijingToday = () => new Date(Date.now() + 8 * 3600_000).toISOString().slice(0, 10);

async function main() {
  const [keysFile, platformUrl] = process.argv.slice(2);
  if (!keysFile || !platformUrl) throw new Error('usage: sims.ts <keys.json> <platformUrl>');
  const keys = JSON.parse(readFileSync(keysFile, 'utf8')) as SandboxKeys;
  const sandbox = await startSandbox(
    { nodeEnv: 'development', sandboxPorts: { wechatpay: 0, his: 0, alipay: 0, bankpay: 0 } },
    keys,
    // Channels re-send a notification that got no 2xx (a killed bff behind the balancer): shortened curve.
    { notifyRetryDelaysMs: [2000, 5000, 15_000, 30_000, 60_000] },
  );
  sandbox.his.setPlatformUrl(platformUrl);
  sandbox.bankpay.notifyRetryDelaysMs = [2000, 5000, 15_000, 30_000, 60_000];
  // Reconciliation of the run's own day: the bank serves today's statement before the day is over.
  sandbox.bankpay.statement.sameDay = true;

  const truth = (): Truth => {
    const orders: TruthOrder[] = [];
    const refunds: TruthRefund[] = [];
    for (const o of sandbox.wechat.orders.values()) {
      const paid = Boolean(o.transaction_id);
      orders.push({
        channel: 'wechatpay',
        orderNo: o.out_trade_no,
        amountFen: o.total,
        state: o.trade_state,
        paid,
        returned: paid && o.trade_state === 'REVOKED',
      });
    }
    for (const r of sandbox.wechat.refunds.values())
      refunds.push({
        channel: 'wechatpay',
        orderNo: r.out_trade_no,
        refundNo: r.out_refund_no,
        amountFen: r.refund,
        succeeded: r.status === 'SUCCESS',
      });
    for (const o of sandbox.alipay.orders.values()) {
      const paid = Boolean(o.paidAt);
      // alipay.trade.cancel of a paid trade closes it and gives the money back.
      orders.push({
        channel: 'alipay',
        orderNo: o.outTradeNo,
        amountFen: o.totalFen,
        state: o.status,
        paid,
        returned: paid && o.status === 'TRADE_CLOSED',
      });
      for (const [no, fen] of o.refunds)
        refunds.push({
          channel: 'alipay',
          orderNo: o.outTradeNo,
          refundNo: no,
          amountFen: fen,
          succeeded: true,
        });
    }
    for (const o of sandbox.bankpay.orders.values()) {
      const paid = Boolean(o.paidAt);
      orders.push({
        channel: 'bankpay',
        orderNo: o.outTradeNo,
        amountFen: o.amountFen,
        state: o.tradeStatus,
        paid,
        returned: paid && Boolean(o.reversedAt),
      });
    }
    for (const r of sandbox.bankpay.refunds.values())
      refunds.push({
        channel: 'bankpay',
        orderNo: r.outTradeNo,
        refundNo: r.outRefundNo,
        amountFen: r.refundAmountFen,
        succeeded: r.refundStatus === 'SUCCESS',
      });
    const ledger: Truth['his']['ledger'] = {};
    for (const h of Object.keys(keys.hospitals)) ledger[h] = sandbox.his.ledgerOf(h, beijingToday());
    return {
      orders,
      refunds,
      his: {
        results: [...sandbox.his.results.values()].map((r) => ({
          hospital: r.hospital,
          eventId: r.eventId,
          body: r.body,
        })),
        ledger,
      },
    };
  };
  const control = await startSimServer('chaos-truth', 0, [
    (req) => (req.path === '/truth' && req.method === 'GET' ? json(200, truth()) : undefined),
  ]);

  process.stdout.write(
    `${JSON.stringify({
      wechat: sandbox.wechat.url,
      his: sandbox.his.url,
      alipay: sandbox.alipay.url,
      bankpay: sandbox.bankpay.url,
      credit: sandbox.credit.url,
      nhsa: sandbox.nhsa.url,
      truth: control.url,
    })}\n`,
  );
  const stop = () => void Promise.all([sandbox.close(), control.close()]).then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((e) => {
  console.error('chaos sims:', (e as Error).message);
  process.exit(1);
});
