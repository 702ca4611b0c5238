import { writeTerminalStatement, type TerminalTransaction } from '../../channels/mispos/terminal-statement';
import { encodeGbk } from '../../lib/gbk';
import type { HisSimulator } from '../his/simulator';
import { json, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * The MISPOS acquirer simulator: the bank that settles the card payments taken on the hospital's MISPOS
 * terminals. The terminals are driven by the HIS (the HIS simulator's `mispos` ledger records carry the
 * terminal id and reference number the slip printed), so the acquirer's view is built from those records —
 * then made to disagree on demand, as a real acquirer sometimes does. It serves the day's terminal statement
 * in our contract's layout (channels/mispos/terminal-statement.ts), GBK.
 *
 * Statement file (what the platform downloads, unsigned, like a file-exchange server):
 * - `GET /mispos/v1/statements/{merchantNo}/{yyyyMMdd}.txt` → 200 the file, 404 not published (fault)
 *
 * Control API (loopback only):
 * - `POST /sim/mispos/terminal-only` `{ merchantNo, amountFen, type?: 消费|退货, at?, terminalId?, referenceNo? }`
 *   a transaction the acquirer settled that the HIS never recorded
 * - `POST /sim/mispos/omit` `{ referenceNo }` a transaction the HIS recorded that the acquirer does not list
 * - `POST /sim/mispos/amount` `{ referenceNo, amountFen }` the acquirer settled another amount
 * - `POST /sim/mispos/faults` `{ fault: 'not_ready'|'corrupt'|'down', count? }` for the next statement downloads
 * - `GET  /sim/mispos/statements/{merchantNo}/{YYYY-MM-DD}` the day's transactions as JSON
 */

/** An acquirer merchant: its number and name, and the HIS hospital whose terminals settle under it. */
export interface SimAcquirerMerchant {
  merchantNo: string;
  merchantName: string;
  /** The HIS simulator's hospital code. */
  hospital: string;
}

type MisposFault = 'not_ready' | 'corrupt' | 'down';

const beijingDate = (at: Date) => new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);

export class MisposSimulator {
  private readonly merchants = new Map<string, SimAcquirerMerchant>();
  /** Transactions only the acquirer has, by merchant number. */
  private readonly extra: (TerminalTransaction & { merchantNo: string })[] = [];
  private readonly omitted = new Set<string>();
  private readonly amounts = new Map<string, number>();
  private faults: { fault: MisposFault; count: number }[] = [];
  private server?: RunningSim;
  private seq = 0;
  /** The acquirer's fee on card payments, basis points of each amount, half up to the fen; returns give it back. */
  feeRateBp = 50;

  constructor(
    private readonly port: number,
    private readonly his: HisSimulator,
  ) {}

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  /** The statement URL template for hospitals.settings.mispos.statement.url. */
  get statementUrlTemplate(): string {
    return `${this.url}/mispos/v1/statements/{merchantNo}/{yyyymmdd}.txt`;
  }

  addMerchant(m: SimAcquirerMerchant): void {
    this.merchants.set(m.merchantNo, m);
  }

  async start(): Promise<this> {
    this.server = await startSimServer('mispos', this.port, [(r) => this.control(r), (r) => this.api(r)]);
    return this;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  feeOf(amountFen: number): number {
    return Math.floor((amountFen * this.feeRateBp + 5000) / 10_000);
  }

  /** A transaction the acquirer settled that the HIS never recorded (the HIS crashed after the card was read). */
  addTerminalOnly(t: {
    merchantNo: string;
    amountFen: number;
    type?: '消费' | '退货';
    at?: Date;
    terminalId?: string;
    referenceNo?: string;
  }): TerminalTransaction {
    if (!this.merchants.has(t.merchantNo)) throw new Error(`unknown merchant ${t.merchantNo}`);
    const at = t.at ?? new Date();
    const type = t.type ?? '消费';
    const tx: TerminalTransaction & { merchantNo: string } = {
      merchantNo: t.merchantNo,
      terminalId: t.terminalId ?? 'T0000001',
      referenceNo:
        t.referenceNo ??
        `9${String(Date.now() % 1e7).padStart(7, '0')}${String(++this.seq).padStart(4, '0')}`,
      maskedCardNo: '621700******4321',
      type,
      amountFen: t.amountFen,
      feeFen: type === '消费' ? this.feeOf(t.amountFen) : -this.feeOf(t.amountFen),
      at,
      batchNo: '000001',
      voucherNo: String(900000 + this.seq).slice(-6),
    };
    this.extra.push(tx);
    return tx;
  }

  /** The acquirer does not list this reference number (lost, or never settled). */
  omit(referenceNo: string): void {
    this.omitted.add(referenceNo);
  }

  /** The acquirer settled this reference number for another amount. */
  settleAmount(referenceNo: string, amountFen: number): void {
    this.amounts.set(referenceNo, amountFen);
  }

  injectFault(fault: MisposFault, count = 1): void {
    this.faults.push({ fault, count });
  }

  private takeFault(): MisposFault | undefined {
    const f = this.faults.find((x) => x.count > 0);
    if (!f) return undefined;
    f.count--;
    if (f.count === 0) this.faults = this.faults.filter((x) => x !== f);
    return f.fault;
  }

  /** The acquirer's transactions of one merchant and Beijing day, in time order. */
  transactions(merchantNo: string, date: string): TerminalTransaction[] {
    const m = this.merchants.get(merchantNo);
    if (!m) return [];
    const fromHis: TerminalTransaction[] = this.his
      .misposRecords(m.hospital, date)
      .filter((r) => !this.omitted.has(r.terminalRef))
      .map((r, i) => {
        const amountFen = this.amounts.get(r.terminalRef) ?? r.amountFen;
        const fee = this.feeOf(amountFen);
        return {
          terminalId: r.terminalId,
          referenceNo: r.terminalRef,
          maskedCardNo: r.maskedCardNo,
          type: r.kind === 'payment' ? '消费' : '退货',
          amountFen,
          feeFen: r.kind === 'payment' ? fee : -fee,
          at: r.at,
          batchNo: '000001',
          voucherNo: String(i + 1).padStart(6, '0'),
          authCode: r.kind === 'payment' ? String(100000 + i).slice(-6) : undefined,
        };
      });
    const extra = this.extra.filter((t) => t.merchantNo === merchantNo && beijingDate(t.at) === date);
    return [...fromHis, ...extra.map(({ merchantNo: _m, ...t }) => t)].sort(
      (a, b) => a.at.getTime() - b.at.getTime(),
    );
  }

  /** The day's terminal statement file (GBK), as the platform downloads it. */
  statementFile(merchantNo: string, date: string): Buffer {
    const m = this.merchants.get(merchantNo);
    if (!m) throw new Error(`unknown merchant ${merchantNo}`);
    return writeTerminalStatement(
      { merchantNo, merchantName: m.merchantName, billDate: date },
      this.transactions(merchantNo, date),
      encodeGbk,
    );
  }

  private api(req: SimRequest): SimReply | undefined {
    const m = /^\/mispos\/v1\/statements\/([^/]+)\/(\d{4})(\d{2})(\d{2})\.txt$/.exec(req.path);
    if (!m || req.method !== 'GET') return undefined;
    const merchantNo = decodeURIComponent(m[1]!);
    if (!this.merchants.has(merchantNo)) return json(404, { code: 'NOT_FOUND', message: 'no such merchant' });
    const fault = this.takeFault();
    if (fault === 'down') return { status: -1 };
    if (fault === 'not_ready')
      return json(404, { code: 'NOT_FOUND', message: 'statement not published yet' });
    let bytes = this.statementFile(merchantNo, `${m[2]}-${m[3]}-${m[4]}`);
    // corrupt: the trailer's fee sum is off by a fen (a file damaged or altered after it was written).
    if (fault === 'corrupt') {
      const text = bytes.toString('latin1');
      const at = text.lastIndexOf('\r\nT,') + 2;
      const cells = text.slice(at).trimEnd().split(',');
      cells[5] = (Number(cells[5]) + 0.01).toFixed(2);
      bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(`${cells.join(',')}\r\n`, 'latin1')]);
    }
    return {
      status: 200,
      headers: { 'content-type': 'text/plain; charset=GBK', 'content-length': String(bytes.length) },
      body: bytes,
    };
  }

  private control(req: SimRequest): SimReply | undefined {
    if (!req.path.startsWith('/sim/mispos/')) return undefined;
    const body = req.body ? (JSON.parse(req.body) as Record<string, unknown>) : {};
    try {
      if (req.path === '/sim/mispos/terminal-only' && req.method === 'POST')
        return json(200, {
          transaction: this.addTerminalOnly({
            merchantNo: String(body.merchantNo),
            amountFen: Number(body.amountFen),
            type: body.type === '退货' ? '退货' : '消费',
            at: body.at ? new Date(String(body.at)) : undefined,
            terminalId: body.terminalId ? String(body.terminalId) : undefined,
            referenceNo: body.referenceNo ? String(body.referenceNo) : undefined,
          }),
        });
      if (req.path === '/sim/mispos/omit' && req.method === 'POST') {
        this.omit(String(body.referenceNo));
        return json(200, { ok: true });
      }
      if (req.path === '/sim/mispos/amount' && req.method === 'POST') {
        this.settleAmount(String(body.referenceNo), Number(body.amountFen));
        return json(200, { ok: true });
      }
      if (req.path === '/sim/mispos/faults' && req.method === 'POST') {
        this.injectFault(body.fault as MisposFault, Number(body.count ?? 1));
        return json(200, { ok: true });
      }
      const view = /^\/sim\/mispos\/statements\/([^/]+)\/(\d{4}-\d{2}-\d{2})$/.exec(req.path);
      if (view && req.method === 'GET')
        return json(200, { transactions: this.transactions(decodeURIComponent(view[1]!), view[2]!) });
    } catch (e) {
      return json(400, { code: 'BAD_REQUEST', message: (e as Error).message });
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }
}
