// Load generator, run as its own process so it does not share the bff's event loop.
// argv: JSON { url, connections, duration, token, mode: 'pay'|'query', billIdsFile?, orderIds? }
const fs = require('node:fs');
const autocannon = require('autocannon');

const opts = JSON.parse(process.argv[2]);
const headers = { 'content-type': 'application/json', authorization: `Bearer ${opts.token}` };
let requests;
if (opts.mode === 'pay') {
  const billIds = fs.readFileSync(opts.billIdsFile, 'utf8').trim().split('\n');
  let next = 0;
  requests = [
    {
      method: 'POST',
      path: '/api/orders',
      setupRequest: (req) => {
        const billId = billIds[next++ % billIds.length];
        return {
          ...req,
          body: JSON.stringify({ billIds: [billId], channel: 'wechatpay', tradeType: 'NATIVE' }),
        };
      },
    },
  ];
} else {
  let i = 0;
  requests = [
    {
      method: 'GET',
      setupRequest: (req) => ({
        ...req,
        path: i++ % 2 === 0 ? '/api/patient/bills' : `/api/orders/${opts.orderIds[i % opts.orderIds.length]}`,
      }),
    },
  ];
}
autocannon(
  { url: opts.url, connections: opts.connections, duration: opts.duration, headers, requests, timeout: 10 },
  (err, res) => {
    if (err) {
      console.error(err);
      process.exit(1);
    }
    process.stdout.write(
      JSON.stringify({
        rps: res.requests.average,
        total: res.requests.total,
        p50: res.latency.p50,
        p99: res.latency.p99,
        errors: res.errors + res.timeouts + res.non2xx,
        non2xx: res.non2xx,
      }),
    );
  },
);
