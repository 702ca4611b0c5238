import { randomBytes } from 'node:crypto';
import { signedHeaders, verifySignature } from '../../modules/his/signature';
import { json, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * HIS simulator: a hospital information system with patients and bills. It pushes bills to our signed
 * open API, receives our signed result pushes (idempotent by event id) and can be told to fail.
 *
 * Control API (loopback only):
 * - `POST /sim/his/bills` `{ hospital, patientId, title, amountFen, … }` creates a bill and pushes it to the platform
 * - `POST /sim/his/faults` `{ failNext?: n, down?: boolean, failureRate?: 0..1 }`
 * - `GET  /sim/his/results` every result push the HIS accepted
 */

export interface SimHisHospital {
  code: string;
  appId: string;
  secret: string;
}

export interface SimPatient {
  hospital: string;
  patientId: string;
  name: string;
}

export interface SimBillInput {
  hospital: string;
  patientId: string;
  title: string;
  amountFen: number;
  department?: string;
  doctor?: string;
  visitNo?: string;
  hisBillNo?: string;
  items?: { name: string; quantity: number; unit?: string; amountFen: number }[];
}

export interface AcceptedResult {
  hospital: string;
  eventId: string;
  body: Record<string, unknown>;
  receivedAt: Date;
}

export class HisSimulator {
  private readonly hospitals = new Map<string, SimHisHospital>();
  readonly patients: SimPatient[] = [];
  /** Accepted result pushes by event id: a repeated push is acknowledged and not counted twice. */
  readonly results = new Map<string, AcceptedResult>();
  /** Every push attempt with what the simulator answered. */
  readonly attempts: { eventId: string; status: number }[] = [];
  private failNext = 0;
  private down = false;
  private failureRate = 0;
  private platformUrl?: string;
  private server?: RunningSim;
  private billSeq = 0;

  constructor(private readonly port: number) {}

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addHospital(h: SimHisHospital): void {
    this.hospitals.set(h.code, h);
  }

  addPatient(p: SimPatient): void {
    this.patients.push(p);
  }

  /** Where the platform's open API is (known once the bff listens). */
  setPlatformUrl(url: string): void {
    this.platformUrl = url;
  }

  setFaults(f: { failNext?: number; down?: boolean; failureRate?: number }): void {
    if (f.failNext !== undefined) this.failNext = f.failNext;
    if (f.down !== undefined) this.down = f.down;
    if (f.failureRate !== undefined) this.failureRate = f.failureRate;
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

  /** Creates a bill in the HIS and pushes it through `POST /open/v1/bills`. */
  async pushBill(input: SimBillInput) {
    const patient = this.patients.find(
      (p) => p.hospital === input.hospital && p.patientId === input.patientId,
    );
    const bill = {
      hisBillNo:
        input.hisBillNo ??
        `HB${Date.now()}${String(++this.billSeq).padStart(4, '0')}${randomBytes(2).toString('hex')}`,
      patientId: input.patientId,
      patientName: patient?.name ?? '测试患者',
      visitNo: input.visitNo,
      department: input.department,
      doctor: input.doctor,
      title: input.title,
      amountFen: input.amountFen,
      items: input.items ?? [],
    };
    const res = await this.callPlatform(input.hospital, 'POST', '/open/v1/bills', { bills: [bill] });
    return { bill, ...res };
  }

  private async api(req: SimRequest): Promise<SimReply | undefined> {
    if (req.path !== '/his/v1/results' || req.method !== 'POST') return undefined;
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
    const body = JSON.parse(req.body) as Record<string, unknown>;
    const eventId = String(body.eventId ?? '');
    let status = 200;
    if (this.down) status = 503;
    else if (this.failNext > 0) {
      this.failNext--;
      status = 500;
    } else if (this.failureRate > 0 && Math.random() < this.failureRate) status = 500;
    this.attempts.push({ eventId, status });
    if (status === 503) return { status: -1 }; // down: no answer at all
    if (status !== 200) return json(status, { code: 'ERR', message: 'HIS internal error (simulated)' });
    if (!this.results.has(eventId))
      this.results.set(eventId, { hospital: h.code, eventId, body, receivedAt: new Date() });
    return json(200, { code: '0', message: 'ok' });
  }

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    if (!req.path.startsWith('/sim/his/')) return undefined;
    const body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    if (req.path === '/sim/his/bills' && req.method === 'POST') {
      const r = await this.pushBill(body as SimBillInput);
      return json(r.status === 200 ? 200 : 502, r);
    }
    if (req.path === '/sim/his/faults' && req.method === 'POST') {
      this.setFaults(body);
      return json(200, { failNext: this.failNext, down: this.down, failureRate: this.failureRate });
    }
    if (req.path === '/sim/his/results' && req.method === 'GET')
      return json(200, { results: [...this.results.values()] });
    if (req.path === '/sim/his/patients' && req.method === 'GET')
      return json(200, { patients: this.patients });
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }
}
