import { randomBytes } from 'node:crypto';
import { maskName } from '../../lib/mask';
import { signedHeaders, verifySignature } from '../../modules/his/signature';
import { json, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';
import { invoicePdf } from './invoice-pdf';

/**
 * HIS simulator: a hospital information system with patients (card and ID numbers — sandbox data, not real
 * people), visits, bills with prescription detail, e-invoices and a daily ledger. It pushes bills to our
 * signed open API, and serves the reference HIS protocol our HIS client speaks (modules/his/client.ts).
 * Every `/his/v1/…` call must carry our signature (signature.ts, the open API's scheme), and every one of
 * them obeys the faults.
 *
 * HIS API (signed by the platform):
 * - `POST /his/v1/results` a payment or refund result (idempotent by event id). A payment marks its bills
 *   paid and issues an e-invoice (a one-page PDF); every accepted result goes to the ledger.
 * - `GET  /his/v1/patients/{patientId}/pending-bills` → `{ code: "0", bills: [OpenBill] }` (pull mode)
 * - `POST /his/v1/patients/lookup` `{ cardNo | idNo, name }` → `{ code: "0", patient: { patientId, name
 *   (masked), cardType } }`; `404 NOT_FOUND`, `422 NAME_MISMATCH`
 * - `GET  /his/v1/prescriptions/{hisBillNo}` → `{ code: "0", prescription: { …, items } }`; `404 NOT_FOUND`
 * - `GET  /his/v1/invoices?orderNo=…` → `{ code: "0", invoices: [{ invoiceCode, invoiceNo, amountFen,
 *   issuedAt, contentType, fileBase64 }] }` (empty until the payment result arrived)
 * - `GET  /his/v1/ledger?date=YYYY-MM-DD` → the day's ledger, {@link HisLedger}
 *
 * Control API (loopback only, unsigned):
 * - `POST /sim/his/bills` `{ hospital, patientId, title, amountFen, …, push?: false }` creates a bill and
 *   pushes it to the platform (`push: false`: only the HIS has it — pull mode)
 * - `GET  /sim/his/bills?hospital=&patientId=` the HIS's bills
 * - `POST /sim/his/bills/{hisBillNo}/pay-at-window` `{ hospital?, channel?: "cash", receiptNo? }` the bill
 *   is paid offline: no longer pending, and in the ledger
 * - `POST /sim/his/patients` `{ hospital, patientId, name, cardNo?, cardType?, idNo? }`; `GET /sim/his/patients`
 * - `POST /sim/his/ledger/offline` `{ hospital, kind, channel, amountFen, hisBillNos?, receiptNo?, at?,
 *   terminalId?, terminalRef?, maskedCardNo? }` (`channel: "mispos"`: a bank card on a MISPOS terminal)
 * - `GET  /sim/his/ledger?hospital=H001&date=YYYY-MM-DD`, `GET /sim/his/invoices?orderNo=…`
 * - `POST /sim/his/faults` `{ failNext?: n, down?: boolean, failureRate?: 0..1, delayMs?: n }` — for every
 *   `/his/v1/…` call: down drops the connection, failNext / failureRate answer 500, delayMs answers late
 * - `GET  /sim/his/results` every result push the HIS accepted
 */

export interface SimHisHospital {
  code: string;
  appId: string;
  secret: string;
  /** Printed on invoices. */
  name?: string;
}

/** A patient of the simulated HIS. Card and ID numbers are sandbox data. */
export interface SimPatient {
  hospital: string;
  patientId: string;
  name: string;
  cardNo?: string;
  cardType?: 'HOSPITAL_CARD' | 'MEDICARE_CARD';
  idNo?: string;
}

export interface SimVisit {
  hospital: string;
  visitNo: string;
  patientId: string;
  department?: string;
  doctor?: string;
  diagnosis?: string;
  visitedAt: Date;
}

export interface SimBillItemInput {
  name: string;
  spec?: string;
  quantity: number;
  unit?: string;
  /** Defaults to amountFen ÷ quantity. */
  unitPriceFen?: number;
  amountFen: number;
  /** 执行科室 */
  department?: string;
  /** 医保目录编码 and fee category (01–14), pushed with the bill for the insurance fee-detail upload. */
  code?: string;
  category?: string;
}

export interface SimBillInput {
  hospital: string;
  patientId: string;
  title: string;
  amountFen: number;
  department?: string;
  doctor?: string;
  diagnosis?: string;
  visitNo?: string;
  hisBillNo?: string;
  items?: SimBillItemInput[];
}

/** A bill as the HIS holds it: what it pushes, plus the prescription detail. */
export interface SimBill {
  hospital: string;
  hisBillNo: string;
  patientId: string;
  patientName: string;
  visitNo?: string;
  department?: string;
  doctor?: string;
  diagnosis?: string;
  title: string;
  amountFen: number;
  items: (SimBillItemInput & { unitPriceFen: number })[];
  status: 'UNPAID' | 'PAID' | 'CANCELLED';
  /** How it was paid: our order number, or the window's receipt. */
  paidBy?: string;
  createdAt: Date;
}

export interface SimInvoice {
  hospital: string;
  orderNo: string;
  invoiceCode: string;
  invoiceNo: string;
  amountFen: number;
  issuedAt: Date;
  contentType: 'application/pdf';
  file: Buffer;
}

export interface AcceptedResult {
  hospital: string;
  eventId: string;
  body: Record<string, unknown>;
  receivedAt: Date;
}

/**
 * One line of the HIS's daily ledger (收费日结明细). The format reconciliation consumes:
 *
 * - `kind`: `payment` (money in) or `refund` (money out); `amountFen` is always positive, in integer fen.
 * - `source`: `platform` — a result our platform pushed and the HIS accepted; `offline` — taken by the HIS
 *   itself (cash or bank card at the window), which the platform never saw.
 * - `channel`: for platform records the order's channel (`wechatpay`, `alipay`, `bankpay`), or `cash` for a
 *   refund paid back at the window (`method: CASH`); for offline records `cash`, `mispos` (bank card on the
 *   acquirer's terminal the HIS drives), `kiosk` (self-service machine), `prepaid` (hospital card balance)
 *   or `pos` (a stand-alone bank terminal, not linked to the HIS).
 * - `orderNo`: our order number (platform records), else null. `refundNo`: our refund number (platform
 *   refunds), else null. `receiptNo`: the window's receipt (offline records, cash refunds), else null.
 * - `hisBillNos`: the HIS bills the money was for (may be empty for an offline deposit).
 * - `time`: when the HIS booked it, ISO-8601 in Beijing time (`2026-11-23T10:15:00+08:00`); the ledger of a
 *   date holds the records booked that Beijing day — a payment made at 23:59:59 and pushed after midnight is
 *   in the next day's ledger (a T+1 cut-off difference for reconciliation).
 * - `occurredAt`: when the money moved, as the pusher said (`paidAt` / `refundedAt`), same format.
 * - `terminalId`, `terminalRef`: `mispos` records only — the terminal and the reference number (参考号) its
 *   slip printed, which the acquirer's terminal statement lists too; else null.
 */
export interface HisLedgerRecord {
  kind: 'payment' | 'refund';
  source: 'platform' | 'offline';
  channel: string;
  orderNo: string | null;
  refundNo: string | null;
  receiptNo: string | null;
  hisBillNos: string[];
  amountFen: number;
  time: string;
  occurredAt: string;
  terminalId: string | null;
  terminalRef: string | null;
}

/** `GET /his/v1/ledger?date=…`: the day's records in booking order and their totals. */
export interface HisLedger {
  hospital: string;
  /** The Beijing business day, YYYY-MM-DD. */
  date: string;
  records: HisLedgerRecord[];
  totals: {
    payments: { count: number; amountFen: number };
    refunds: { count: number; amountFen: number };
  };
}

/** ISO-8601 in Beijing time: `2026-11-23T10:15:00+08:00`. */
export function beijingIso(at: Date): string {
  return `${new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 19)}+08:00`;
}
const beijingDate = (at: Date) => new Date(at.getTime() + 8 * 3600_000).toISOString().slice(0, 10);

interface LedgerEntry extends HisLedgerRecord {
  hospital: string;
  at: Date;
  /** MISPOS: the card as the slip prints it (masked); never in the ledger the HIS serves. */
  maskedCardNo?: string;
}

/** A MISPOS record with what the terminal printed: what the acquirer's simulator settles. */
export interface SimMisposRecord {
  hospital: string;
  kind: 'payment' | 'refund';
  terminalId: string;
  terminalRef: string;
  maskedCardNo: string;
  amountFen: number;
  at: Date;
}

export class HisSimulator {
  private readonly hospitals = new Map<string, SimHisHospital>();
  readonly patients: SimPatient[] = [];
  readonly visits = new Map<string, SimVisit>();
  /** Bills by `hospital:hisBillNo`. */
  readonly bills = new Map<string, SimBill>();
  readonly invoices: SimInvoice[] = [];
  private readonly ledger: LedgerEntry[] = [];
  /** Accepted result pushes by event id: a repeated push is acknowledged and not counted twice. */
  readonly results = new Map<string, AcceptedResult>();
  /** Every push attempt with what the simulator answered. */
  readonly attempts: { eventId: string; status: number }[] = [];
  /** Every signed `/his/v1/…` call that got past the signature check, with the status answered (-1: dropped). */
  readonly calls: { path: string; status: number }[] = [];
  private failNext = 0;
  private down = false;
  private failureRate = 0;
  private delayMs = 0;
  private platformUrl?: string;
  private server?: RunningSim;
  private billSeq = 0;
  private invoiceSeq = 0;
  private refSeq = 0;

  constructor(private readonly port: number) {}

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addHospital(h: SimHisHospital): void {
    this.hospitals.set(h.code, h);
  }

  /** Adds a patient, or updates the one with the same hospital and patient id. */
  addPatient(p: SimPatient): void {
    const i = this.patients.findIndex((x) => x.hospital === p.hospital && x.patientId === p.patientId);
    if (i >= 0) this.patients[i] = { ...this.patients[i], ...p };
    else this.patients.push({ ...p });
  }

  addVisit(v: Omit<SimVisit, 'visitedAt'> & { visitedAt?: Date }): SimVisit {
    const visit = { ...v, visitedAt: v.visitedAt ?? new Date() };
    this.visits.set(`${v.hospital}:${v.visitNo}`, visit);
    return visit;
  }

  /** Where the platform's open API is (known once the bff listens). */
  setPlatformUrl(url: string): void {
    this.platformUrl = url;
  }

  setFaults(f: { failNext?: number; down?: boolean; failureRate?: number; delayMs?: number }): void {
    if (f.failNext !== undefined) this.failNext = f.failNext;
    if (f.down !== undefined) this.down = f.down;
    if (f.failureRate !== undefined) this.failureRate = f.failureRate;
    if (f.delayMs !== undefined) this.delayMs = f.delayMs;
  }

  async start(): Promise<this> {
    this.server = await startSimServer('his', this.port, [(r) => this.control(r), (r) => this.api(r)]);
    return this;
  }

  async close(): Promise<void> {
    await this.server?.close();
  }

  /** Calls our open API as the HIS would: signed with the hospital's app secret. */
  async callPlatform(hospital: string, method: string, pathAndQuery: string, body?: unknown) {
    const h = this.hospitals.get(hospital);
    if (!h) throw new Error(`unknown hospital ${hospital}`);
    if (!this.platformUrl) throw new Error('platform URL not set');
    const text = body === undefined ? '' : JSON.stringify(body);
    const res = await fetch(new URL(pathAndQuery, this.platformUrl), {
      method,
      body: body === undefined ? undefined : text,
      headers: signedHeaders(h.appId, h.secret, method, pathAndQuery, text),
    });
    return { status: res.status, body: (await res.json().catch(() => null)) as any };
  }

  /**
   * Creates (or replaces, by HIS bill number) a bill in the HIS only — what a pull-mode hospital does.
   * A new visit number opens a visit.
   */
  createBill(input: SimBillInput): SimBill {
    const patient = this.patients.find(
      (p) => p.hospital === input.hospital && p.patientId === input.patientId,
    );
    const hisBillNo =
      input.hisBillNo ??
      `HB${Date.now()}${String(++this.billSeq).padStart(4, '0')}${randomBytes(2).toString('hex')}`;
    const items: SimBill['items'] = (input.items ?? []).map((i) => ({
      ...i,
      unitPriceFen: i.unitPriceFen ?? Math.round(i.amountFen / i.quantity),
    }));
    const bill: SimBill = {
      hospital: input.hospital,
      hisBillNo,
      patientId: input.patientId,
      patientName: patient?.name ?? '测试患者',
      visitNo: input.visitNo,
      department: input.department,
      doctor: input.doctor,
      diagnosis: input.diagnosis,
      title: input.title,
      amountFen: input.amountFen,
      items,
      status: 'UNPAID',
      createdAt: new Date(),
    };
    this.bills.set(`${input.hospital}:${hisBillNo}`, bill);
    if (input.visitNo && !this.visits.has(`${input.hospital}:${input.visitNo}`))
      this.addVisit({
        hospital: input.hospital,
        visitNo: input.visitNo,
        patientId: input.patientId,
        department: input.department,
        doctor: input.doctor,
        diagnosis: input.diagnosis,
      });
    return bill;
  }

  /** A bill as the HIS pushes it (and as the pending-bills pull answers it): the open API's shape. */
  private openBill(b: SimBill) {
    return {
      hisBillNo: b.hisBillNo,
      patientId: b.patientId,
      patientName: b.patientName,
      visitNo: b.visitNo,
      department: b.department,
      doctor: b.doctor,
      title: b.title,
      amountFen: b.amountFen,
      items: b.items.map((i) => ({
        name: i.name,
        spec: i.spec,
        quantity: i.quantity,
        unit: i.unit,
        amountFen: i.amountFen,
        ...(i.code ? { code: i.code } : {}),
        ...(i.category ? { category: i.category } : {}),
      })),
    };
  }

  /** Creates a bill in the HIS and pushes it through `POST /open/v1/bills`. */
  async pushBill(input: SimBillInput) {
    const bill = this.openBill(this.createBill(input));
    const res = await this.callPlatform(input.hospital, 'POST', '/open/v1/bills', { bills: [bill] });
    return { bill, ...res };
  }

  /**
   * Records money the HIS took itself (cash, bank card at the window) in its ledger. A `mispos` record gets
   * the terminal's id and a fresh 12-digit reference number (参考号) unless given, and a masked card number.
   */
  addOfflineRecord(r: {
    hospital: string;
    kind: 'payment' | 'refund';
    channel: string;
    amountFen: number;
    hisBillNos?: string[];
    receiptNo?: string;
    at?: Date;
    terminalId?: string;
    terminalRef?: string;
    maskedCardNo?: string;
  }): HisLedgerRecord {
    if (!Number.isSafeInteger(r.amountFen) || r.amountFen <= 0)
      throw new Error('amountFen must be a positive integer');
    const at = r.at ?? new Date();
    const mispos = r.channel === 'mispos';
    const entry: LedgerEntry = {
      hospital: r.hospital,
      at,
      kind: r.kind,
      source: 'offline',
      channel: r.channel,
      orderNo: null,
      refundNo: null,
      receiptNo: r.receiptNo ?? `R${Date.now()}${String(++this.billSeq).padStart(4, '0')}`,
      hisBillNos: r.hisBillNos ?? [],
      amountFen: r.amountFen,
      time: beijingIso(at),
      occurredAt: beijingIso(at),
      terminalId: mispos ? (r.terminalId ?? 'T0000001') : null,
      terminalRef: mispos
        ? (r.terminalRef ??
          `${beijingIso(at).slice(5, 7)}${beijingIso(at).slice(8, 10)}${String(++this.refSeq % 1e8).padStart(8, '0')}`)
        : null,
      maskedCardNo: mispos ? (r.maskedCardNo ?? '622848******0017') : undefined,
    };
    this.ledger.push(entry);
    return this.ledgerRecord(entry);
  }

  /** The day's MISPOS records of a hospital, with what the terminals printed (for the acquirer's simulator). */
  misposRecords(hospital: string, date: string): SimMisposRecord[] {
    return this.ledger
      .filter(
        (e) =>
          e.hospital === hospital && e.channel === 'mispos' && e.terminalRef && beijingDate(e.at) === date,
      )
      .map((e) => ({
        hospital,
        kind: e.kind,
        terminalId: e.terminalId!,
        terminalRef: e.terminalRef!,
        maskedCardNo: e.maskedCardNo ?? '622848******0017',
        amountFen: e.amountFen,
        at: e.at,
      }));
  }

  /** A bill paid at the window: no longer pending, and in the ledger as an offline record. */
  payAtWindow(
    hospital: string,
    hisBillNo: string,
    opts: { channel?: string; receiptNo?: string; terminalRef?: string } = {},
  ) {
    const bill = this.bills.get(`${hospital}:${hisBillNo}`);
    if (!bill) throw new Error(`no bill ${hisBillNo}`);
    if (bill.status !== 'UNPAID') throw new Error(`bill ${hisBillNo} is ${bill.status}`);
    const record = this.addOfflineRecord({
      hospital,
      kind: 'payment',
      channel: opts.channel ?? 'cash',
      amountFen: bill.amountFen,
      hisBillNos: [hisBillNo],
      receiptNo: opts.receiptNo,
      terminalRef: opts.terminalRef,
    });
    bill.status = 'PAID';
    bill.paidBy = record.receiptNo ?? undefined;
    return record;
  }

  private ledgerRecord(e: LedgerEntry): HisLedgerRecord {
    const { hospital: _h, at: _a, maskedCardNo: _c, ...record } = e;
    return record;
  }

  /** The ledger of one Beijing day for a hospital. */
  ledgerOf(hospital: string, date: string): HisLedger {
    const records = this.ledger
      .filter((e) => e.hospital === hospital && beijingDate(e.at) === date)
      .map((e) => this.ledgerRecord(e));
    const sum = (kind: 'payment' | 'refund') => {
      const of = records.filter((r) => r.kind === kind);
      return { count: of.length, amountFen: of.reduce((s, r) => s + r.amountFen, 0) };
    };
    return { hospital, date, records, totals: { payments: sum('payment'), refunds: sum('refund') } };
  }

  /** Issues the e-invoice of a paid order: one PDF for the order's bills. */
  private issueInvoice(h: SimHisHospital, orderNo: string, amountFen: number, hisBillNos: string[]) {
    const bills = hisBillNos.map((no) => this.bills.get(`${h.code}:${no}`)).filter((b): b is SimBill => !!b);
    const issuedAt = new Date();
    const seq = [...this.hospitals.keys()].indexOf(h.code) + 1;
    const invoiceCode = `3301${String(seq).padStart(2, '0')}26`;
    const invoiceNo =
      String(Math.floor(issuedAt.getTime() / 1000) % 1_000_000).padStart(6, '0') +
      String(++this.invoiceSeq % 10_000).padStart(4, '0');
    const file = invoicePdf({
      hospitalName: h.name ?? `${h.code} 医院（沙箱）`,
      invoiceCode,
      invoiceNo,
      amountFen,
      issuedAt,
      orderNo,
      payerName: bills[0] ? maskName(bills[0].patientName) : undefined,
      items: bills.map((b) => ({ name: b.title, amountFen: b.amountFen })),
    });
    this.invoices.push({
      hospital: h.code,
      orderNo,
      invoiceCode,
      invoiceNo,
      amountFen,
      issuedAt,
      contentType: 'application/pdf',
      file,
    });
  }

  /** Books an accepted result: bills paid, invoice issued, ledger line. */
  private book(h: SimHisHospital, body: Record<string, unknown>, receivedAt: Date): void {
    const hisBillNos = Array.isArray(body.hisBillNos) ? body.hisBillNos.map(String) : [];
    const totalFen = Number(body.amountFen);
    const orderNo = String(body.orderNo ?? '');
    if (!Number.isSafeInteger(totalFen) || totalFen <= 0) return;
    const refund = body.kind === 'refund';
    // Medical insurance: the HIS books the insurance part against the insurance settlement, not the channel;
    // its ledger of channel money carries the cash part only.
    const insurance = body.insurance as { cashFen?: number } | undefined;
    const amountFen = insurance ? Number(insurance.cashFen ?? 0) : totalFen;
    if (insurance && amountFen === 0) {
      if (!refund) this.markPaidAndInvoice(h, orderNo, totalFen, hisBillNos);
      return;
    }
    const occurred = new Date(String((refund ? body.refundedAt : body.paidAt) ?? receivedAt.toISOString()));
    this.ledger.push({
      hospital: h.code,
      at: receivedAt,
      kind: refund ? 'refund' : 'payment',
      source: 'platform',
      channel: refund && body.method === 'CASH' ? 'cash' : String(body.channel ?? ''),
      orderNo,
      refundNo: refund ? String(body.refundNo ?? '') : null,
      receiptNo: refund && body.method === 'CASH' ? String(body.channelRefundId ?? '') || null : null,
      hisBillNos,
      amountFen,
      time: beijingIso(receivedAt),
      occurredAt: beijingIso(Number.isNaN(occurred.getTime()) ? receivedAt : occurred),
      terminalId: null,
      terminalRef: null,
    });
    if (refund) return;
    this.markPaidAndInvoice(h, orderNo, totalFen, hisBillNos);
  }

  private markPaidAndInvoice(
    h: SimHisHospital,
    orderNo: string,
    totalFen: number,
    hisBillNos: string[],
  ): void {
    for (const no of hisBillNos) {
      const b = this.bills.get(`${h.code}:${no}`);
      if (b) {
        b.status = 'PAID';
        b.paidBy = orderNo;
      }
    }
    this.issueInvoice(h, orderNo, totalFen, hisBillNos);
  }

  /** Our signature on a `/his/v1/…` call: the hospital it names, or the 401 to answer. */
  private authenticate(req: SimRequest): SimHisHospital | SimReply {
    const appId = String(req.headers['x-app-id'] ?? '');
    const h = [...this.hospitals.values()].find((x) => x.appId === appId);
    if (!h) return json(401, { code: 'AUTH', message: 'unknown app id' });
    const ok = verifySignature(
      h.secret,
      String(req.headers['x-signature'] ?? ''),
      req.method,
      req.url,
      String(req.headers['x-timestamp'] ?? ''),
      String(req.headers['x-nonce'] ?? ''),
      req.body,
    );
    if (!ok) return json(401, { code: 'AUTH', message: 'bad signature' });
    return h;
  }

  /** The fault for this call: 200 none, 503 down (drop the connection), 500 an injected error. */
  private fault(): number {
    if (this.down) return 503;
    if (this.failNext > 0) {
      this.failNext--;
      return 500;
    }
    if (this.failureRate > 0 && Math.random() < this.failureRate) return 500;
    return 200;
  }

  private async api(req: SimRequest): Promise<SimReply | undefined> {
    if (!req.path.startsWith('/his/v1/')) return undefined;
    const h = this.authenticate(req);
    if ('status' in h) return h;
    const status = this.fault();
    if (req.path === '/his/v1/results' && req.method === 'POST') {
      let eventId = '';
      try {
        eventId = String((JSON.parse(req.body) as Record<string, unknown>).eventId ?? '');
      } catch {
        /* judged below */
      }
      this.attempts.push({ eventId, status });
    }
    this.calls.push({ path: req.path, status: status === 503 ? -1 : status });
    if (status === 503) return { status: -1 }; // down: no answer at all
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    if (status !== 200) return json(status, { code: 'ERR', message: 'HIS internal error (simulated)' });
    return this.route(h, req);
  }

  private route(h: SimHisHospital, req: SimRequest): SimReply {
    const notFound = (message: string) => json(404, { code: 'NOT_FOUND', message });
    if (req.path === '/his/v1/results' && req.method === 'POST') {
      const body = JSON.parse(req.body) as Record<string, unknown>;
      const eventId = String(body.eventId ?? '');
      if (!this.results.has(eventId)) {
        const receivedAt = new Date();
        this.results.set(eventId, { hospital: h.code, eventId, body, receivedAt });
        this.book(h, body, receivedAt);
      }
      return json(200, { code: '0', message: 'ok' });
    }
    const pending = /^\/his\/v1\/patients\/([^/]+)\/pending-bills$/.exec(req.path);
    if (pending && req.method === 'GET') {
      const patientId = decodeURIComponent(pending[1]!);
      const bills = [...this.bills.values()].filter(
        (b) => b.hospital === h.code && b.patientId === patientId,
      );
      const known = this.patients.some((p) => p.hospital === h.code && p.patientId === patientId);
      if (!known && bills.length === 0) return notFound('no such patient');
      return json(200, {
        code: '0',
        bills: bills.filter((b) => b.status === 'UNPAID').map((b) => this.openBill(b)),
      });
    }
    if (req.path === '/his/v1/patients/lookup' && req.method === 'POST') {
      const body = JSON.parse(req.body) as { cardNo?: string; idNo?: string; name?: string };
      const byId = typeof body.idNo === 'string';
      const p = this.patients.find(
        (x) =>
          x.hospital === h.code &&
          (byId ? x.idNo === body.idNo!.toUpperCase() : !!body.cardNo && x.cardNo === body.cardNo),
      );
      // The message never repeats the number asked for.
      if (!p) return notFound(byId ? 'no patient with this ID number' : 'no patient with this card');
      if ((body.name ?? '').trim() !== p.name)
        return json(422, { code: 'NAME_MISMATCH', message: 'the name does not match' });
      return json(200, {
        code: '0',
        patient: {
          patientId: p.patientId,
          name: maskName(p.name),
          cardType: byId ? 'ID_CARD' : (p.cardType ?? 'HOSPITAL_CARD'),
        },
      });
    }
    const rx = /^\/his\/v1\/prescriptions\/([^/]+)$/.exec(req.path);
    if (rx && req.method === 'GET') {
      const b = this.bills.get(`${h.code}:${decodeURIComponent(rx[1]!)}`);
      if (!b) return notFound('no such prescription');
      const visit = b.visitNo ? this.visits.get(`${h.code}:${b.visitNo}`) : undefined;
      const items: SimBill['items'] = b.items.length
        ? b.items
        : [{ name: b.title, quantity: 1, unit: '项', unitPriceFen: b.amountFen, amountFen: b.amountFen }];
      return json(200, {
        code: '0',
        prescription: {
          hisBillNo: b.hisBillNo,
          patientId: b.patientId,
          visitNo: b.visitNo ?? null,
          department: b.department ?? visit?.department ?? null,
          doctor: b.doctor ?? visit?.doctor ?? null,
          diagnosis: b.diagnosis ?? visit?.diagnosis ?? null,
          prescribedAt: beijingIso(b.createdAt),
          amountFen: b.amountFen,
          items: items.map((i) => ({
            name: i.name,
            spec: i.spec ?? null,
            quantity: i.quantity,
            unit: i.unit ?? null,
            unitPriceFen: i.unitPriceFen,
            amountFen: i.amountFen,
            department: i.department ?? null,
          })),
        },
      });
    }
    if (req.path === '/his/v1/invoices' && req.method === 'GET') {
      const orderNo = req.query.get('orderNo') ?? '';
      return json(200, {
        code: '0',
        invoices: this.invoices
          .filter((i) => i.hospital === h.code && i.orderNo === orderNo)
          .map((i) => ({
            invoiceCode: i.invoiceCode,
            invoiceNo: i.invoiceNo,
            amountFen: i.amountFen,
            issuedAt: beijingIso(i.issuedAt),
            contentType: i.contentType,
            fileBase64: i.file.toString('base64'),
          })),
      });
    }
    if (req.path === '/his/v1/ledger' && req.method === 'GET') {
      const date = req.query.get('date') ?? '';
      if (!/^\d{4}-\d{2}-\d{2}$/.test(date))
        return json(400, { code: 'BAD_REQUEST', message: 'date must be YYYY-MM-DD' });
      return json(200, { code: '0', ...this.ledgerOf(h.code, date) });
    }
    return json(404, { code: 'UNSUPPORTED', message: `the HIS has no ${req.method} ${req.path}` });
  }

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    if (!req.path.startsWith('/sim/his/')) return undefined;
    const body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    if (req.path === '/sim/his/bills' && req.method === 'POST') {
      if (body.push === false) {
        const { push: _push, ...input } = body;
        return json(200, { bill: this.openBill(this.createBill(input as SimBillInput)) });
      }
      const r = await this.pushBill(body as SimBillInput);
      return json(r.status === 200 ? 200 : 502, r);
    }
    if (req.path === '/sim/his/bills' && req.method === 'GET') {
      const hospital = req.query.get('hospital');
      const patientId = req.query.get('patientId');
      return json(200, {
        bills: [...this.bills.values()].filter(
          (b) => (!hospital || b.hospital === hospital) && (!patientId || b.patientId === patientId),
        ),
      });
    }
    const window = /^\/sim\/his\/bills\/([^/]+)\/pay-at-window$/.exec(req.path);
    if (window && req.method === 'POST') {
      try {
        const record = this.payAtWindow(
          String(body.hospital ?? 'H001'),
          decodeURIComponent(window[1]!),
          body,
        );
        return json(200, { record });
      } catch (e) {
        return json(409, { code: 'CONFLICT', message: (e as Error).message });
      }
    }
    if (req.path === '/sim/his/faults' && req.method === 'POST') {
      this.setFaults(body);
      return json(200, {
        failNext: this.failNext,
        down: this.down,
        failureRate: this.failureRate,
        delayMs: this.delayMs,
      });
    }
    if (req.path === '/sim/his/results' && req.method === 'GET')
      return json(200, { results: [...this.results.values()] });
    if (req.path === '/sim/his/patients' && req.method === 'GET')
      return json(200, { patients: this.patients });
    if (req.path === '/sim/his/patients' && req.method === 'POST') {
      this.addPatient(body as SimPatient);
      return json(200, { ok: true });
    }
    if (req.path === '/sim/his/ledger' && req.method === 'GET')
      return json(
        200,
        this.ledgerOf(req.query.get('hospital') ?? 'H001', req.query.get('date') ?? beijingDate(new Date())),
      );
    if (req.path === '/sim/his/ledger/offline' && req.method === 'POST') {
      try {
        const record = this.addOfflineRecord({
          ...(body as Parameters<HisSimulator['addOfflineRecord']>[0]),
          at: body.at ? new Date(String(body.at)) : undefined,
        });
        return json(200, { record });
      } catch (e) {
        return json(400, { code: 'BAD_REQUEST', message: (e as Error).message });
      }
    }
    if (req.path === '/sim/his/invoices' && req.method === 'GET') {
      const orderNo = req.query.get('orderNo');
      return json(200, {
        invoices: this.invoices
          .filter((i) => !orderNo || i.orderNo === orderNo)
          .map(({ file, ...meta }) => ({ ...meta, bytes: file.length })),
      });
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }
}
