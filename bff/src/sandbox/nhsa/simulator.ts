import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { sm2 } from 'sm-crypto-v2';
import { json, simPost, startSimServer, type RunningSim, type SimReply, type SimRequest } from '../harness';

/**
 * The national healthcare-security mobile payment platform (国家医保移动支付) simulator, written apart from
 * channels/nhsa so that it checks the adapter independently: its own SM4/SM2 envelope code (protocols.md §4),
 * signatures verified against each hospital app's registered key (bad ones refused with the platform's
 * codes), signed and encrypted replies, state in memory, reimbursement rules that compute the split, 6302
 * notifications with retries.
 *
 * API (POST, envelope in and out; paths as channels/nhsa/adapter.ts defaults, overridable with `paths`):
 * authorize (authCode → payAuthNo + person), 6201 upload (split), 6401 revoke, 6202 settle (+ 6302 to the
 * notifyUrl), 6301 query, 6203 refund (ALL/HI/CASH), 1101 person info (balance).
 *
 * Reply codes [U: the platform's real list is not public; these are the sandbox's]: 0 成功; 1001 参数错误;
 * 1002 验签失败; 1003 解密失败; 1004 时间戳无效; 1005 应用不存在; 2001 授权码无效或已使用; 2002 支付授权无效或已过期;
 * 2003 订单不存在; 2004 订单状态不允许该操作; 2005 退款金额超过可退金额; 2006 金额不一致; 2007 机构编码不匹配;
 * 2009 个人账户余额不足; 5001 系统繁忙.
 *
 * Control API (unsigned, loopback only):
 * - `GET  /sim/nhsa/auth?state=&returnUrl=` the authorisation page (a patient picks an insured person and taps
 *   授权; the page redirects to returnUrl with `authCode` and `state`, or `error=cancelled`)
 * - `POST /sim/nhsa/authorize` `{ psnNo }` → `{ authCode }` (the page, for tests)
 * - `GET  /sim/nhsa/persons`, `POST /sim/nhsa/persons` `{ psnNo, name, idNo, insutype, balanceFen, … }` (upsert)
 * - `POST /sim/nhsa/faults` `{ op: 'any'|'authorize'|'upload'|'revoke'|'settle'|'query'|'refund'|'balance'|<code>,
 *   fault: 'timeout'|'hang'|'late_reply'|'drop'|'system_error'|'fail'|'tamper_reply'|'bad_split'|'drop_notification'|
 *   'tamper_notification', code?, message?, count? }` — timeout/hang: held, not processed; late_reply: processed,
 *   answered after 15 s; drop: connection closed; fail: refused with `code`; tamper_reply: reply data changed
 *   after signing; bad_split: a signed reply whose parts do not add up; *_notification: the next 6302
 * - `GET  /sim/nhsa/orders`, `GET /sim/nhsa/orders/{payOrdId}` the platform's view
 * - `POST /sim/nhsa/orders/{payOrdId}/settle-external` `{ fundFen?, psnAcctFen?, otherFen?, cashFen?, setlId?, notify? }`
 *   settled by a third party (WeChat insurance pay…): 6301 and 6203 work afterwards
 * - `POST /sim/nhsa/orders/{payOrdId}/resend` re-sends the last 6302 notification
 */

const USER_ID = '1234567812345678';
const VERSION = '2.0.1';

/** Operation → default path (the adapter's defaults, repeated here on purpose). */
export const NHSA_SIM_PATHS = {
  authorize: '/org/local/api/hos/pay_auth/query',
  upload: '/org/local/api/hos/uldFeeInfo',
  revoke: '/org/local/api/hos/revoke_order',
  settle: '/org/local/api/hos/pay_order',
  query: '/org/local/api/hos/query_order_info',
  refund: '/org/local/api/hos/refund_Order',
  balance: '/org/local/api/hos/psn_info',
} as const;
export type NhsaSimOp = keyof typeof NHSA_SIM_PATHS;
const OP_CODES: Record<string, NhsaSimOp> = {
  '6201': 'upload',
  '6401': 'revoke',
  '6202': 'settle',
  '6301': 'query',
  '6203': 'refund',
  '1101': 'balance',
};

/** A hospital app the platform knows. */
export interface NhsaSimApp {
  appId: string;
  appSecret: string;
  /** The hospital's SM2 public key (`04…`), registered with the platform. */
  publicKeyHex: string;
  /** 定点医药机构编码. */
  orgCode: string;
  orgName?: string;
}

/** An insured person. */
export interface NhsaSimPerson {
  psnNo: string;
  name: string;
  idNo: string;
  /** 01: resident ID card. */
  idType?: string;
  /** 310 employee basic, 390 resident basic. */
  insutype: string;
  insuplcAdmdvs?: string;
  /** Personal-account balance (个人账户余额), fen. */
  balanceFen: number;
  /** Whether the person has authorised a payment at least once (set by the page). */
  authorized?: boolean;
  /** Subsidy (公务员补助 etc.): this share of what the patient would pay of fund-covered items goes to "other". */
  subsidyRatePct?: number;
}

export interface NhsaCategoryRule {
  /** Share of the line the pooled fund (统筹) pays, percent (0–100). */
  fundRatePct: number;
  /** Whether the personal account may pay the rest of the line. */
  accountAllowed: boolean;
}

/** How the simulator computes a split: per item category, after a deductible. */
export interface NhsaReimbursementRules {
  /** By charge-item category (med_chrgitm_type, `01`…`14`). */
  categories: Record<string, NhsaCategoryRule>;
  /** For categories not listed. */
  defaultRule: NhsaCategoryRule;
  /** Deductible (起付线) per upload, fen: the first fund-covered fen are the patient's. */
  deductibleFen: number;
  /** Default subsidy share for persons without their own, percent. */
  subsidyRatePct: number;
}

export const NHSA_DEFAULT_RULES: NhsaReimbursementRules = {
  categories: {
    '01': { fundRatePct: 70, accountAllowed: true }, // 床位费
    '02': { fundRatePct: 70, accountAllowed: true }, // 诊察费
    '03': { fundRatePct: 60, accountAllowed: true }, // 检查费
    '04': { fundRatePct: 60, accountAllowed: true }, // 化验费
    '05': { fundRatePct: 70, accountAllowed: true }, // 治疗费
    '06': { fundRatePct: 60, accountAllowed: true }, // 手术费
    '07': { fundRatePct: 70, accountAllowed: true }, // 护理费
    '08': { fundRatePct: 50, accountAllowed: true }, // 卫生材料费
    '09': { fundRatePct: 70, accountAllowed: true }, // 西药费
    '10': { fundRatePct: 60, accountAllowed: true }, // 中药饮片费
    '11': { fundRatePct: 70, accountAllowed: true }, // 中成药费
    '12': { fundRatePct: 80, accountAllowed: true }, // 一般诊疗费
    '13': { fundRatePct: 0, accountAllowed: true }, // 挂号费
    '14': { fundRatePct: 0, accountAllowed: false }, // 其他费
  },
  defaultRule: { fundRatePct: 0, accountAllowed: false },
  deductibleFen: 0,
  subsidyRatePct: 0,
};

/** Built-in demo persons (valid check digits, sandbox-only numbers). */
export const NHSA_DEMO_PERSONS: readonly NhsaSimPerson[] = [
  {
    psnNo: '11000000000000000001',
    name: '张三',
    idNo: '110101198503120017',
    insutype: '310',
    insuplcAdmdvs: '110100',
    balanceFen: 50_000,
  },
  {
    psnNo: '11000000000000000002',
    name: '李四',
    idNo: '110105199207160022',
    insutype: '390',
    insuplcAdmdvs: '110100',
    balanceFen: 0,
  },
  {
    psnNo: '44000000000000000003',
    name: '王五',
    idNo: '44030619780101003X',
    insutype: '310',
    insuplcAdmdvs: '440300',
    balanceFen: 1_200_000,
    subsidyRatePct: 20,
  },
];

export interface NhsaSimulatorOptions {
  /** 0: a random port. */
  port: number;
  /** The platform's SM2 key pair (signs replies and notifications). */
  platformPrivateKeyHex: string;
  platformPublicKeyHex?: string;
  /** The hospital apps the platform knows (more with {@link NhsaSimulator.addApp}). */
  apps?: NhsaSimApp[];
  /** Insured persons; default {@link NHSA_DEMO_PERSONS}. */
  persons?: NhsaSimPerson[];
  rules?: Partial<NhsaReimbursementRules>;
  /** Delays between 6302 attempts after a failed delivery. */
  notifyRetryDelaysMs?: number[];
  /** SM2 signer id [U]. */
  userId?: string;
  /** Accepted request timestamp skew, seconds (default 300). */
  maxSkewSeconds?: number;
  paths?: Partial<Record<NhsaSimOp, string>>;
  /** How long a payAuthNo stays good (default 2 h) and an authCode (default 5 min). */
  payAuthTtlMs?: number;
  authCodeTtlMs?: number;
}

/** A split in fen. */
export interface NhsaSimSplit {
  totalFen: number;
  fundFen: number;
  psnAcctFen: number;
  otherFen: number;
  cashFen: number;
}

export interface NhsaSimRefund {
  appRefdSn: string;
  refundTraceId: string;
  refdType: 'ALL' | 'HI' | 'CASH';
  parts: Omit<NhsaSimSplit, 'totalFen'>;
  at: Date;
}

export interface NhsaSimOrder {
  appId: string;
  orgCode: string;
  payOrdId: string;
  payToken: string;
  medOrgOrd: string;
  psnNo: string;
  payAuthNo: string;
  split: NhsaSimSplit;
  acctUsed: boolean;
  /** ordStas: 1 uploaded, 4/6 settled, 7–11 refunds, 12 revoked. */
  ordStas: string;
  createdAt: Date;
  setlId?: string;
  setlTime?: Date;
  settledBy?: 'platform' | 'external';
  notifyUrl?: string;
  refunded: Omit<NhsaSimSplit, 'totalFen'>;
  refunds: NhsaSimRefund[];
  lastNotification?: { notifyId: string; data: Record<string, unknown> };
  notificationsSent: number;
}

type FaultKind =
  'timeout' | 'hang' | 'late_reply' | 'drop' | 'system_error' | 'fail' | 'tamper_reply' | 'bad_split';
const FAULTS = new Set<string>([
  'timeout',
  'hang',
  'late_reply',
  'drop',
  'system_error',
  'fail',
  'tamper_reply',
  'bad_split',
]);
type Reply = { code: number; message: string; data?: Record<string, unknown> };

// ---- the envelope, written here independently of channels/nhsa/envelope.ts ---------------------------------

function sm4(mode: 'enc' | 'dec', key: Buffer, input: Buffer): Buffer {
  const c = mode === 'enc' ? createCipheriv('sm4-ecb', key, null) : createDecipheriv('sm4-ecb', key, null);
  return Buffer.concat([c.update(input), c.final()]);
}

function simSm4Key(appId: string, appSecret: string): Buffer {
  const seed = sm4('enc', Buffer.from(appId.substring(0, 16), 'utf8'), Buffer.from(appSecret, 'utf8'));
  return Buffer.from(seed.toString('hex').toUpperCase().substring(0, 16), 'ascii');
}

/** The value as the sign string writes it: empties dropped, keys sorted, scalars as strings. */
function normalise(v: unknown): unknown {
  if (v === null || v === undefined || v === '') return undefined;
  if (Array.isArray(v)) {
    const a = v.map(normalise).filter((x) => x !== undefined);
    return a.length ? a : undefined;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    const o: Record<string, unknown> = {};
    for (const k of keys) {
      const n = normalise((v as Record<string, unknown>)[k]);
      if (n !== undefined) o[k] = n;
    }
    return o;
  }
  return String(v);
}

export function simSignText(env: Record<string, unknown>, data: unknown, appSecret: string): string {
  const all: Record<string, unknown> = { ...env, data };
  const pairs = Object.keys(all)
    .filter((k) => k !== 'signData' && k !== 'encData' && k !== 'extra')
    .sort()
    .map((k) => [k, normalise(all[k])] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  return `${pairs.join('&')}&key=${appSecret}`;
}

// ---- money as yuan strings ------------------------------------------------------------------------------

const yuan = (f: number) => `${Math.floor(f / 100)}.${String(f % 100).padStart(2, '0')}`;
function fenOf(v: unknown): number | undefined {
  if (typeof v !== 'string' || !/^\d{1,12}(\.\d{1,2})?$/.test(v)) return undefined;
  const [w, d = ''] = v.split('.');
  return Number(w) * 100 + Number(d.padEnd(2, '0'));
}
const bjTime = (d: Date) => new Date(d.getTime() + 8 * 3600_000).toISOString().slice(0, 19).replace('T', ' ');
const bjCompact = (d: Date) => bjTime(d).replace(/\D/g, '');
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const maskName = (n: string) => ([...n].length <= 1 ? '*' : `${[...n][0]}${'*'.repeat([...n].length - 1)}`);
const maskId = (id: string) => `${id.slice(0, 3)}${'*'.repeat(Math.max(0, id.length - 7))}${id.slice(-4)}`;

/**
 * The split of an upload: per line the fund pays its category's rate of what is left after the deductible
 * (summed exactly, floored once, so the rounding remainder stays with the patient); the subsidy pays its share
 * of the patient's part of fund-covered lines; the personal account (when asked for) pays the patient's part
 * of account-allowed lines up to its balance; cash is the rest. The identity always holds.
 */
export function computeNhsaSplit(
  lines: { category: string; amountFen: number }[],
  opts: { rules: NhsaReimbursementRules; useAccount: boolean; balanceFen: number; subsidyRatePct?: number },
): NhsaSimSplit {
  const { rules } = opts;
  let deductible = rules.deductibleFen;
  let fundHundredths = 0; // fen × percent, summed exactly
  let coveredFen = 0;
  let accountableHundredths = 0; // the patient's part of account-allowed lines, fen × percent
  let totalFen = 0;
  for (const l of lines) {
    const rule = rules.categories[l.category] ?? rules.defaultRule;
    totalFen += l.amountFen;
    const rate = Math.min(100, Math.max(0, rule.fundRatePct));
    const own = rate > 0 ? Math.min(deductible, l.amountFen) : 0;
    deductible -= own;
    const covered = rate > 0 ? l.amountFen - own : 0;
    coveredFen += covered;
    fundHundredths += covered * rate;
    if (rule.accountAllowed) accountableHundredths += l.amountFen * 100 - covered * rate;
  }
  const fundFen = Math.floor(fundHundredths / 100);
  const subsidy = Math.min(100, Math.max(0, opts.subsidyRatePct ?? rules.subsidyRatePct));
  const otherFen = Math.floor(((coveredFen - fundFen) * subsidy) / 100);
  // (With a subsidy the account cap is approximate — the subsidy is not attributed to lines — but the last
  // bound keeps the identity.)
  const psnAcctFen = opts.useAccount
    ? Math.max(
        0,
        Math.min(opts.balanceFen, Math.floor(accountableHundredths / 100), totalFen - fundFen - otherFen),
      )
    : 0;
  return { totalFen, fundFen, psnAcctFen, otherFen, cashFen: totalFen - fundFen - otherFen - psnAcctFen };
}

export class NhsaSimulator {
  readonly apps = new Map<string, NhsaSimApp & { point: ReturnType<typeof sm2.precomputePublicKey> }>();
  readonly persons = new Map<string, NhsaSimPerson>();
  /** By payOrdId. */
  readonly orders = new Map<string, NhsaSimOrder>();
  /** Every 6302 attempt: what, and the status our endpoint answered. */
  readonly deliveries: { notifyId: string; payOrdId: string; status: number | 'error'; tampered: boolean }[] =
    [];
  rules: NhsaReimbursementRules;
  notifyRetryDelaysMs: number[];

  private readonly authCodes = new Map<string, { psnNo: string; expires: number; used: boolean }>();
  private readonly payAuths = new Map<string, { psnNo: string; appId: string; expires: number }>();
  private faults: { op: string; fault: FaultKind; code?: number; message?: string; count: number }[] = [];
  private notificationFaults: ('drop' | 'tamper')[] = [];
  private readonly paths: Record<NhsaSimOp, string>;
  private readonly platformPublicKeyHex: string;
  private readonly timers = new Set<NodeJS.Timeout>();
  private server?: RunningSim;
  private seq = 0;

  constructor(private readonly opts: NhsaSimulatorOptions) {
    this.platformPublicKeyHex =
      opts.platformPublicKeyHex ?? sm2.getPublicKeyFromPrivateKey(opts.platformPrivateKeyHex);
    this.notifyRetryDelaysMs = opts.notifyRetryDelaysMs ?? [];
    this.rules = {
      ...NHSA_DEFAULT_RULES,
      ...opts.rules,
      categories: { ...NHSA_DEFAULT_RULES.categories, ...opts.rules?.categories },
    };
    this.paths = { ...NHSA_SIM_PATHS, ...opts.paths };
    for (const a of opts.apps ?? []) this.addApp(a);
    for (const p of opts.persons ?? NHSA_DEMO_PERSONS) this.persons.set(p.psnNo, { ...p });
  }

  get url(): string {
    if (!this.server) throw new Error('simulator not started');
    return this.server.url;
  }

  addApp(a: NhsaSimApp): void {
    this.apps.set(a.appId, { ...a, point: sm2.precomputePublicKey(a.publicKeyHex) });
  }

  async start(): Promise<this> {
    this.server = await startSimServer('nhsa', this.opts.port, [(r) => this.control(r), (r) => this.api(r)]);
    return this;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await this.server?.close();
  }

  injectFault(
    op: string,
    fault: FaultKind,
    opts: { code?: number; message?: string; count?: number } = {},
  ): void {
    this.faults.push({
      op: OP_CODES[op] ?? op,
      fault,
      code: opts.code,
      message: opts.message,
      count: opts.count ?? 1,
    });
  }

  /** The next notifications: dropped (never sent), or tampered with on their first attempt. */
  injectNotificationFault(kind: 'drop' | 'tamper', count = 1): void {
    for (let i = 0; i < count; i++) this.notificationFaults.push(kind);
  }

  private takeFault(op: NhsaSimOp) {
    const f = this.faults.find((x) => x.count > 0 && (x.op === 'any' || x.op === op));
    if (!f) return undefined;
    f.count--;
    if (f.count === 0) this.faults = this.faults.filter((x) => x !== f);
    return f;
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private id(prefix: string): string {
    this.seq = (this.seq + 1) % 100000;
    return `${prefix}${bjCompact(new Date())}${String(this.seq).padStart(5, '0')}${randomBytes(3).toString('hex').toUpperCase()}`;
  }

  // ---- envelopes ----------------------------------------------------------------------------------------

  /** A signed (and, with data, encrypted) envelope for an app. */
  private seal(
    app: NhsaSimApp,
    fields: Record<string, string | number | boolean>,
    data?: unknown,
    at = Date.now(),
  ) {
    const env: Record<string, unknown> = {
      appId: app.appId,
      encType: 'SM4',
      signType: 'SM2',
      timestamp: String(at),
      version: VERSION,
      ...fields,
    };
    const clean = data === undefined ? undefined : normaliseForWire(data);
    if (clean !== undefined)
      env.encData = sm4('enc', simSm4Key(app.appId, app.appSecret), Buffer.from(JSON.stringify(clean)))
        .toString('hex')
        .toUpperCase();
    const sig = sm2.doSignature(
      new TextEncoder().encode(simSignText(env, clean, app.appSecret)),
      this.opts.platformPrivateKeyHex,
      { hash: true, userId: this.opts.userId ?? USER_ID, publicKey: this.platformPublicKeyHex },
    );
    env.signData = Buffer.from(sig, 'hex').toString('base64');
    return env;
  }

  /** The same envelope with its data changed after signing (a man in the middle who knows the app secret). */
  private tamper(app: NhsaSimApp, env: Record<string, unknown>, change: (d: Record<string, any>) => void) {
    const key = simSm4Key(app.appId, app.appSecret);
    const d =
      typeof env.encData === 'string'
        ? (JSON.parse(sm4('dec', key, Buffer.from(env.encData, 'hex')).toString('utf8')) as Record<
            string,
            any
          >)
        : {};
    change(d);
    return {
      ...env,
      encData: sm4('enc', key, Buffer.from(JSON.stringify(d)))
        .toString('hex')
        .toUpperCase(),
    };
  }

  private reply(app: NhsaSimApp | undefined, r: Reply, tamper = false): SimReply {
    const fields = { code: r.code, message: r.message, success: r.code === 0 };
    // An unknown app: there is no secret to key the signature with, so the refusal goes out unsigned.
    if (!app) return json(200, { encType: 'SM4', signType: 'SM2', version: VERSION, ...fields });
    let env = this.seal(app, fields, r.data);
    if (tamper)
      env = this.tamper(app, env, (d) => {
        d.tampered = '1';
        if (typeof d.fundPay === 'string') d.fundPay = yuan((fenOf(d.fundPay) ?? 0) + 1);
      });
    return json(200, env);
  }

  /** Checks a request envelope: app, encryption, signature, timestamp. */
  private authenticate(
    req: SimRequest,
  ): { app: NhsaSimApp; data: Record<string, any> } | { error: SimReply } {
    let env: Record<string, unknown>;
    try {
      env = JSON.parse(req.body) as Record<string, unknown>;
    } catch {
      return { error: this.reply(undefined, { code: 1001, message: '请求体不是 JSON' }) };
    }
    if (!env || typeof env !== 'object' || Array.isArray(env))
      return { error: this.reply(undefined, { code: 1001, message: '请求体不是 JSON 对象' }) };
    const app = typeof env.appId === 'string' ? this.apps.get(env.appId) : undefined;
    if (!app)
      return { error: this.reply(undefined, { code: 1005, message: `应用 ${String(env.appId)} 不存在` }) };
    const fail = (code: number, message: string) => ({ error: this.reply(app, { code, message }) });
    if (env.encType !== 'SM4' || env.signType !== 'SM2' || env.version !== VERSION)
      return fail(1001, 'encType/signType/version 不正确');
    if (typeof env.encData !== 'string' || typeof env.signData !== 'string')
      return fail(1001, '缺少 encData 或 signData');
    let data: Record<string, any>;
    try {
      if (!/^([0-9A-F]{32})+$/.test(env.encData)) throw new Error('not upper hex blocks');
      const plain = sm4('dec', simSm4Key(app.appId, app.appSecret), Buffer.from(env.encData, 'hex'));
      data = JSON.parse(plain.toString('utf8')) as Record<string, any>;
      if (!data || typeof data !== 'object' || Array.isArray(data)) throw new Error('not an object');
    } catch {
      return fail(1003, '解密失败');
    }
    const sig = Buffer.from(env.signData, 'base64');
    let ok = false;
    if (sig.length === 64 && sig.toString('base64') === env.signData) {
      try {
        ok = sm2.doVerifySignature(
          new TextEncoder().encode(simSignText(env, data, app.appSecret)),
          sig.toString('hex'),
          app.point,
          { hash: true, userId: this.opts.userId ?? USER_ID },
        );
      } catch {
        ok = false;
      }
    }
    if (!ok) return fail(1002, '验签失败');
    const ts = Number(env.timestamp);
    const tsMs = ts >= 1e11 ? ts : ts * 1000;
    if (
      !/^\d{9,13}$/.test(String(env.timestamp)) ||
      Math.abs(Date.now() - tsMs) > (this.opts.maxSkewSeconds ?? 300) * 1000
    )
      return fail(1004, '时间戳无效');
    return { app, data };
  }

  // ---- the signed API ----------------------------------------------------------------------------------

  private async api(req: SimRequest): Promise<SimReply | undefined> {
    const op = (Object.keys(this.paths) as NhsaSimOp[]).find((k) => this.paths[k] === req.path);
    if (!op) return undefined;
    if (req.method !== 'POST') return json(405, { code: 1001, message: '仅支持 POST' });
    const auth = this.authenticate(req);
    if ('error' in auth) return auth.error;
    const { app, data } = auth;
    const fault = this.takeFault(op);
    switch (fault?.fault) {
      case 'drop':
        return { status: -1 };
      case 'system_error':
        return this.reply(app, { code: 5001, message: '系统繁忙，请稍后重试' });
      case 'fail':
        return this.reply(app, {
          code: fault.code ?? 2004,
          message: fault.message ?? '交易失败（沙箱注入）',
        });
      case 'timeout':
      case 'hang':
        // Held past any sane client timeout and not processed.
        await new Promise<void>((r) => this.later(r, fault.fault === 'hang' ? 120_000 : 15_000));
        return this.reply(app, { code: 5001, message: '系统超时' });
      case 'late_reply': {
        const r = this.handle(op, app, data); // processed…
        await new Promise<void>((res) => this.later(res, 15_000)); // …but answered after the caller gave up
        return this.reply(app, r);
      }
      case 'bad_split': {
        // A genuine, signed reply whose parts do not add up (fund one fen too high).
        const r = this.handle(op, app, data);
        if (typeof r.data?.fundPay === 'string') r.data.fundPay = yuan((fenOf(r.data.fundPay) ?? 0) + 1);
        return this.reply(app, r);
      }
      default:
        return this.reply(app, this.handle(op, app, data), fault?.fault === 'tamper_reply');
    }
  }

  private handle(op: NhsaSimOp, app: NhsaSimApp, d: Record<string, any>): Reply {
    if (d.orgCodg !== app.orgCode)
      return { code: 2007, message: `机构编码 ${String(d.orgCodg)} 与应用不匹配` };
    switch (op) {
      case 'authorize':
        return this.authorizeCall(app, d);
      case 'upload':
        return this.upload(app, d);
      case 'revoke':
        return this.revoke(app, d);
      case 'settle':
        return this.settleCall(app, d);
      case 'query':
        return this.query(app, d);
      case 'refund':
        return this.refund(app, d);
      case 'balance':
        return this.balance(app, d);
    }
  }

  /** A payAuthNo good for this app (and person); else why not. */
  private payAuth(app: NhsaSimApp, payAuthNo: unknown, psnNo?: unknown) {
    const a = typeof payAuthNo === 'string' ? this.payAuths.get(payAuthNo) : undefined;
    if (!a || a.appId !== app.appId || a.expires < Date.now()) return undefined;
    if (psnNo !== undefined && a.psnNo !== psnNo) return undefined;
    return a;
  }

  private authorizeCall(app: NhsaSimApp, d: Record<string, any>): Reply {
    const c = typeof d.authCode === 'string' ? this.authCodes.get(d.authCode) : undefined;
    if (!c || c.used || c.expires < Date.now()) return { code: 2001, message: '授权码无效或已使用' };
    c.used = true;
    const p = this.persons.get(c.psnNo);
    if (!p) return { code: 2001, message: '参保人不存在' };
    const payAuthNo = `AUTH${randomBytes(16).toString('hex').toUpperCase()}`;
    const expires = Date.now() + (this.opts.payAuthTtlMs ?? 2 * 3600_000);
    this.payAuths.set(payAuthNo, { psnNo: p.psnNo, appId: app.appId, expires });
    return {
      code: 0,
      message: '成功',
      data: {
        payAuthNo,
        authExpTime: bjCompact(new Date(expires)),
        psnNo: p.psnNo,
        userName: p.name,
        idNo: p.idNo,
        idType: p.idType ?? '01',
        insutype: p.insutype,
        insuplcAdmdvs: p.insuplcAdmdvs,
      },
    };
  }

  private personMatches(p: NhsaSimPerson, d: Record<string, any>): boolean {
    return d.idNo === p.idNo && d.userName === p.name && d.insutype === p.insutype;
  }

  private upload(app: NhsaSimApp, d: Record<string, any>): Reply {
    const p = this.persons.get(String(d.psnNo));
    if (!p || !this.personMatches(p, d)) return { code: 1001, message: '人员信息不一致' };
    const auth = this.payAuth(app, d.payAuthNo, p.psnNo);
    if (!auth) return { code: 2002, message: '支付授权无效或已过期' };
    if (typeof d.medOrgOrd !== 'string' || !d.medOrgOrd) return { code: 1001, message: '缺少 medOrgOrd' };
    if (d.acctUsedFlag !== '0' && d.acctUsedFlag !== '1')
      return { code: 1001, message: 'acctUsedFlag 为 0 或 1' };
    const total = fenOf(d.medfeeSumamt);
    if (total === undefined) return { code: 1001, message: 'medfeeSumamt 格式错误' };
    if (!Array.isArray(d.feedetailList) || !d.feedetailList.length)
      return { code: 1001, message: '缺少费用明细' };
    const lines: { category: string; amountFen: number }[] = [];
    const sns = new Set<string>();
    for (const l of d.feedetailList as Record<string, any>[]) {
      const amount = fenOf(l?.detItemFeeSumamt);
      if (amount === undefined || typeof l.feedetlSn !== 'string' || sns.has(l.feedetlSn))
        return { code: 1001, message: `费用明细 ${String(l?.feedetlSn)} 格式错误或重复` };
      sns.add(l.feedetlSn);
      lines.push({ category: String(l.medChrgitmType ?? '14'), amountFen: amount });
    }
    if (lines.reduce((s, l) => s + l.amountFen, 0) !== total)
      return { code: 2006, message: '明细金额之和与 medfeeSumamt 不一致' };
    for (const o of this.orders.values()) {
      if (o.appId !== app.appId || o.medOrgOrd !== d.medOrgOrd) continue;
      if (o.ordStas === '1')
        o.ordStas = '12'; // re-uploaded: the earlier upload is replaced
      else if (o.ordStas !== '12') return { code: 2004, message: '该订单已结算，不能重新上传' };
    }
    const split = computeNhsaSplit(lines, {
      rules: this.rules,
      useAccount: d.acctUsedFlag === '1',
      balanceFen: p.balanceFen,
      subsidyRatePct: p.subsidyRatePct,
    });
    const o: NhsaSimOrder = {
      appId: app.appId,
      orgCode: app.orgCode,
      payOrdId: this.id('ORD'),
      payToken: randomBytes(16).toString('hex'),
      medOrgOrd: d.medOrgOrd,
      psnNo: p.psnNo,
      payAuthNo: d.payAuthNo,
      split,
      acctUsed: d.acctUsedFlag === '1',
      ordStas: '1',
      createdAt: new Date(),
      refunded: { fundFen: 0, psnAcctFen: 0, otherFen: 0, cashFen: 0 },
      refunds: [],
      notificationsSent: 0,
    };
    this.orders.set(o.payOrdId, o);
    return {
      code: 0,
      message: '成功',
      data: {
        ...this.view(o),
        payToken: o.payToken,
        extData: {
          preSetl: {
            medfee_sumamt: yuan(split.totalFen),
            fund_pay_sumamt: yuan(split.fundFen + split.otherFen),
            hifp_pay: yuan(split.fundFen),
            oth_pay: yuan(split.otherFen),
            acct_pay: yuan(split.psnAcctFen),
            psn_cash_pay: yuan(split.cashFen),
            balc: yuan(p.balanceFen),
          },
        },
      },
    };
  }

  /** The order view replies and notifications carry. */
  view(o: NhsaSimOrder): Record<string, unknown> {
    return {
      orgCodg: o.orgCode,
      payOrdId: o.payOrdId,
      medOrgOrd: o.medOrgOrd,
      ordStas: o.ordStas,
      feeSumamt: yuan(o.split.totalFen),
      fundPay: yuan(o.split.fundFen),
      psnAcctPay: yuan(o.split.psnAcctFen),
      othPay: yuan(o.split.otherFen),
      ownPayAmt: yuan(o.split.cashFen),
      setlId: o.setlId,
      setlTime: o.setlTime ? bjTime(o.setlTime) : undefined,
      refdSumamt: yuan(o.refunded.fundFen + o.refunded.psnAcctFen + o.refunded.otherFen + o.refunded.cashFen),
    };
  }

  private own(app: NhsaSimApp, d: Record<string, any>): NhsaSimOrder | undefined {
    if (typeof d.payOrdId === 'string') {
      const o = this.orders.get(d.payOrdId);
      return o && o.appId === app.appId ? o : undefined;
    }
    if (typeof d.medOrgOrd === 'string')
      return [...this.orders.values()]
        .filter((o) => o.appId === app.appId && o.medOrgOrd === d.medOrgOrd)
        .at(-1);
    return undefined;
  }

  private revoke(app: NhsaSimApp, d: Record<string, any>): Reply {
    const o = this.own(app, d);
    if (!o) return { code: 2003, message: '订单不存在' };
    if (d.payAuthNo !== undefined && d.payAuthNo !== o.payAuthNo)
      return { code: 2002, message: '支付授权不匹配' };
    if (o.ordStas === '1') o.ordStas = '12';
    else if (o.ordStas !== '12') return { code: 2004, message: '订单已结算，不能撤销' };
    return {
      code: 0,
      message: '成功',
      data: { payOrdId: o.payOrdId, medOrgOrd: o.medOrgOrd, ordStas: o.ordStas },
    };
  }

  private settleCall(app: NhsaSimApp, d: Record<string, any>): Reply {
    const o = this.own(app, { payOrdId: d.payOrdId });
    if (!o) return { code: 2003, message: '订单不存在' };
    if (d.payToken !== o.payToken) return { code: 2002, message: 'payToken 无效' };
    if (!this.payAuth(app, d.payAuthNo, o.psnNo) || d.payAuthNo !== o.payAuthNo)
      return { code: 2002, message: '支付授权无效或已过期' };
    if (['4', '5', '6'].includes(o.ordStas)) return { code: 0, message: '成功', data: this.view(o) }; // repeated
    if (o.ordStas !== '1') return { code: 2004, message: `订单状态 ${o.ordStas} 不能支付` };
    const sent: [string, number][] = [
      ['feeSumamt', o.split.totalFen],
      ['fundPay', o.split.fundFen],
      ['psnAcctPay', o.split.psnAcctFen],
      ['othPay', o.split.otherFen],
      ['ownPayAmt', o.split.cashFen],
    ];
    for (const [k, v] of sent)
      if (d[k] !== undefined && fenOf(d[k]) !== v) return { code: 2006, message: `${k} 与预结算结果不一致` };
    if (typeof d.notifyUrl !== 'string' || !/^https?:\/\//.test(d.notifyUrl))
      return { code: 1001, message: 'notifyUrl 格式错误' };
    const p = this.persons.get(o.psnNo);
    if (!p || p.balanceFen < o.split.psnAcctFen) return { code: 2009, message: '个人账户余额不足' };
    p.balanceFen -= o.split.psnAcctFen;
    o.notifyUrl = d.notifyUrl;
    this.markSettled(o, 'platform');
    this.notify(o);
    return { code: 0, message: '成功', data: this.view(o) };
  }

  private markSettled(o: NhsaSimOrder, by: 'platform' | 'external'): void {
    // The platform settles the insurance part; the cash part is the hospital's to collect (4) unless a third
    // party took both in one payment (6).
    o.ordStas = by === 'external' || o.split.cashFen === 0 ? '6' : '4';
    o.settledBy = by;
    o.setlId = this.id('SETL');
    o.setlTime = new Date();
  }

  private query(app: NhsaSimApp, d: Record<string, any>): Reply {
    const o = this.own(app, d);
    if (!o) return { code: 2003, message: '订单不存在' };
    return { code: 0, message: '成功', data: { ...this.view(o), setlType: 'ALL' } };
  }

  private refund(app: NhsaSimApp, d: Record<string, any>): Reply {
    const o = this.own(app, { payOrdId: d.payOrdId });
    if (!o) return { code: 2003, message: '订单不存在' };
    if (typeof d.appRefdSn !== 'string' || !d.appRefdSn) return { code: 1001, message: '缺少 appRefdSn' };
    if (!/^\d{14}$/.test(String(d.appRefdTime)))
      return { code: 1001, message: 'appRefdTime 格式为 yyyyMMddHHmmss' };
    const type = d.refdType;
    if (type !== 'ALL' && type !== 'HI' && type !== 'CASH')
      return { code: 1001, message: 'refdType 为 ALL/HI/CASH' };
    const parts = {
      fundFen: fenOf(d.fundRefdAmt ?? '0'),
      psnAcctFen: fenOf(d.psnAcctRefdAmt ?? '0'),
      otherFen: fenOf(d.othRefdAmt ?? '0'),
      cashFen: fenOf(d.cashRefdAmt ?? '0'),
    };
    const total = fenOf(d.totlRefdAmt);
    if (total === undefined || Object.values(parts).some((v) => v === undefined))
      return { code: 1001, message: '退款金额格式错误' };
    const p = parts as Omit<NhsaSimSplit, 'totalFen'>;
    if (p.fundFen + p.psnAcctFen + p.otherFen + p.cashFen !== total)
      return { code: 2006, message: '退款金额之和不一致' };
    const done = (r: NhsaSimRefund): Reply => ({
      code: 0,
      message: '成功',
      data: {
        payOrdId: o.payOrdId,
        medOrgOrd: o.medOrgOrd,
        appRefdSn: r.appRefdSn,
        refundTraceId: r.refundTraceId,
        refStatus: 'SUCC',
        ordStas: o.ordStas,
      },
    });
    const again = o.refunds.find((r) => r.appRefdSn === d.appRefdSn);
    if (again) {
      const same = (Object.keys(p) as (keyof typeof p)[]).every((k) => again.parts[k] === p[k]);
      return same ? done(again) : { code: 1001, message: '退款流水号重复且金额不同' };
    }
    if (!o.setlId || ['1', '12', '7'].includes(o.ordStas))
      return { code: 2004, message: '订单未结算或已全部退款' };
    if (total === 0) return { code: 1001, message: '退款金额为 0' };
    const left = {
      fundFen: o.split.fundFen - o.refunded.fundFen,
      psnAcctFen: o.split.psnAcctFen - o.refunded.psnAcctFen,
      otherFen: o.split.otherFen - o.refunded.otherFen,
      cashFen: o.split.cashFen - o.refunded.cashFen,
    };
    const keys = Object.keys(left) as (keyof typeof left)[];
    if (keys.some((k) => p[k] > left[k])) return { code: 2005, message: '退款金额超过可退金额' };
    if (type === 'ALL' && keys.some((k) => p[k] !== left[k]))
      return { code: 2006, message: '全额退款须等于剩余可退的各部分金额' };
    if (type === 'HI' && p.cashFen !== 0) return { code: 1001, message: 'HI 退款不含现金部分' };
    if (type === 'CASH' && p.fundFen + p.psnAcctFen + p.otherFen !== 0)
      return { code: 1001, message: 'CASH 退款只含现金部分' };
    for (const k of keys) o.refunded[k] += p[k];
    const person = this.persons.get(o.psnNo);
    if (person) person.balanceFen += p.psnAcctFen;
    const r: NhsaSimRefund = {
      appRefdSn: d.appRefdSn,
      refundTraceId: this.id('RFD'),
      refdType: type,
      parts: { ...p },
      at: new Date(),
    };
    o.refunds.push(r);
    const insLeft = keys.filter((k) => k !== 'cashFen').reduce((s, k) => s + o.split[k] - o.refunded[k], 0);
    const cashLeft = o.split.cashFen - o.refunded.cashFen;
    if (insLeft === 0 && cashLeft === 0) o.ordStas = '7';
    else if (insLeft === 0) o.ordStas = o.refunded.cashFen > 0 ? '11' : '8';
    else if (o.refunded.cashFen > 0) o.ordStas = cashLeft === 0 ? '9' : '10';
    return done(r);
  }

  private balance(app: NhsaSimApp, d: Record<string, any>): Reply {
    const p = this.persons.get(String(d.psnNo));
    if (!p || !this.payAuth(app, d.payAuthNo, p.psnNo))
      return { code: 2002, message: '支付授权无效或已过期' };
    return {
      code: 0,
      message: '成功',
      data: {
        baseinfo: {
          psn_no: p.psnNo,
          psn_name: p.name,
          psn_cert_type: p.idType ?? '01',
          certno: p.idNo,
          insuplc_admdvs: p.insuplcAdmdvs,
        },
        insuinfo: [{ insutype: p.insutype, balc: yuan(p.balanceFen), insuplc_admdvs: p.insuplcAdmdvs }],
      },
    };
  }

  // ---- 6302 notifications ---------------------------------------------------------------------------------

  private notify(o: NhsaSimOrder): void {
    if (!o.notifyUrl) return;
    o.lastNotification = { notifyId: this.id('NT'), data: { ...this.view(o) } };
    const fault = this.notificationFaults.shift();
    if (fault === 'drop') return;
    o.notificationsSent++;
    void this.deliver(o, 0, fault === 'tamper');
  }

  /**
   * A 6302 of the order as it would read once settled (`data` overrides the order view), sealed and signed at
   * `at` (epoch ms): built, not sent, the order unchanged (security tests: stale, wrong amounts).
   */
  notificationFor(payOrdId: string, opts: { data?: Record<string, unknown>; at?: number } = {}): string {
    const o = this.orders.get(payOrdId);
    const app = o && this.apps.get(o.appId);
    if (!o || !app) throw new Error(`no such order ${payOrdId}`);
    const settled = {
      ...this.view(o),
      ordStas: o.split.cashFen === 0 ? '6' : '4',
      setlId: o.setlId ?? this.id('SETL'),
      setlTime: bjTime(o.setlTime ?? new Date()),
    };
    return JSON.stringify(this.seal(app, {}, { notifyId: this.id('NT'), ...settled, ...opts.data }, opts.at));
  }

  /** Delivers the order's last 6302; anything but 200 with code 0 is retried on the configured curve. */
  async deliver(o: NhsaSimOrder, attempt = 0, tamper = false): Promise<number | 'error'> {
    const app = this.apps.get(o.appId);
    const n = o.lastNotification;
    if (!app || !n || !o.notifyUrl) return 'error';
    let env = this.seal(app, {}, { notifyId: n.notifyId, ...n.data });
    if (tamper)
      env = this.tamper(app, env, (d) => {
        d.fundPay = yuan((fenOf(d.fundPay) ?? 0) + 1);
        d.ownPayAmt = yuan(Math.max(0, (fenOf(d.ownPayAmt) ?? 0) - 1));
      });
    let status: number | 'error';
    let acked = false;
    try {
      const r = await simPost(o.notifyUrl, JSON.stringify(env), {
        'content-type': 'application/json; charset=utf-8',
      });
      status = r.status;
      try {
        acked = r.status === 200 && String((JSON.parse(r.body) as { code?: unknown }).code) === '0';
      } catch {
        acked = false;
      }
    } catch {
      status = 'error';
    }
    this.deliveries.push({ notifyId: n.notifyId, payOrdId: o.payOrdId, status, tampered: tamper });
    const delays = this.notifyRetryDelaysMs;
    if (!acked && attempt < delays.length)
      this.later(() => void this.deliver(o, attempt + 1), delays[attempt]!);
    return status;
  }

  // ---- authorisation and control API -----------------------------------------------------------------------

  /** Issues a one-time authCode for a person (what the authorisation page does). */
  issueAuthCode(psnNo: string): string {
    const p = this.persons.get(psnNo);
    if (!p) throw new Error(`no insured person ${psnNo}`);
    p.authorized = true;
    const code = randomBytes(16).toString('hex');
    this.authCodes.set(code, {
      psnNo,
      expires: Date.now() + (this.opts.authCodeTtlMs ?? 5 * 60_000),
      used: false,
    });
    return code;
  }

  /** Marks an upload settled by a third party (WeChat insurance pay…), with its split. */
  settleExternal(
    payOrdId: string,
    split?: Partial<Omit<NhsaSimSplit, 'totalFen'>>,
    setlId?: string,
  ): NhsaSimOrder {
    const o = this.orders.get(payOrdId);
    if (!o) throw new Error(`no such order ${payOrdId}`);
    if (o.ordStas !== '1') throw new Error(`order is ${o.ordStas}`);
    const s = { ...o.split, ...split };
    if (s.fundFen + s.psnAcctFen + s.otherFen + s.cashFen !== s.totalFen)
      throw new Error('the split does not add up');
    const p = this.persons.get(o.psnNo);
    if (p) p.balanceFen = Math.max(0, p.balanceFen - s.psnAcctFen);
    o.split = s;
    this.markSettled(o, 'external');
    if (setlId) o.setlId = setlId;
    return o;
  }

  private orderView(o: NhsaSimOrder) {
    const { payToken: _t, payAuthNo: _a, lastNotification: _n, ...rest } = o;
    return { ...rest, view: this.view(o) };
  }

  private async control(req: SimRequest): Promise<SimReply | undefined> {
    if (req.path === '/sim/nhsa/auth')
      return req.method === 'GET' ? this.authPage(req.query) : this.authSubmit(req);
    if (!req.path.startsWith('/sim/nhsa/')) return undefined;
    let body: Record<string, any> = {};
    try {
      body = req.body ? (JSON.parse(req.body) as Record<string, any>) : {};
    } catch {
      return json(400, { code: 'PARAM_ERROR', message: 'body is not JSON' });
    }
    let m: RegExpExecArray | null;
    if (req.path === '/sim/nhsa/authorize' && req.method === 'POST') {
      try {
        return json(200, { authCode: this.issueAuthCode(String(body.psnNo)) });
      } catch (e) {
        return json(404, { code: 'NOT_FOUND', message: (e as Error).message });
      }
    }
    if (req.path === '/sim/nhsa/persons') {
      if (req.method === 'GET') return json(200, { persons: [...this.persons.values()] });
      if (req.method === 'POST') {
        const ok =
          typeof body.psnNo === 'string' &&
          typeof body.name === 'string' &&
          typeof body.idNo === 'string' &&
          typeof body.insutype === 'string' &&
          Number.isSafeInteger(body.balanceFen) &&
          body.balanceFen >= 0;
        if (!ok)
          return json(400, {
            code: 'PARAM_ERROR',
            message: 'psnNo, name, idNo, insutype and balanceFen are required',
          });
        this.persons.set(body.psnNo, { ...this.persons.get(body.psnNo), ...(body as NhsaSimPerson) });
        return json(200, this.persons.get(body.psnNo));
      }
    }
    if (req.path === '/sim/nhsa/faults' && req.method === 'POST') {
      if (body.fault === 'drop_notification' || body.fault === 'tamper_notification') {
        this.injectNotificationFault(
          body.fault === 'drop_notification' ? 'drop' : 'tamper',
          Number(body.count ?? 1),
        );
        return json(200, { notificationFaults: this.notificationFaults });
      }
      if (!FAULTS.has(body.fault))
        return json(400, {
          code: 'PARAM_ERROR',
          message: `fault is one of ${[...FAULTS].join(', ')}, drop_notification, tamper_notification`,
        });
      this.injectFault(String(body.op ?? 'any'), body.fault as FaultKind, {
        code: Number.isSafeInteger(body.code) ? body.code : undefined,
        message: typeof body.message === 'string' ? body.message : undefined,
        count: Number(body.count ?? 1),
      });
      return json(200, { faults: this.faults });
    }
    if (req.path === '/sim/nhsa/orders' && req.method === 'GET')
      return json(200, { orders: [...this.orders.values()].map((o) => this.orderView(o)) });
    if ((m = /^\/sim\/nhsa\/orders\/([^/]+)$/.exec(req.path)) && req.method === 'GET') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      return o ? json(200, this.orderView(o)) : json(404, { code: 'NOT_FOUND', message: 'no such order' });
    }
    if ((m = /^\/sim\/nhsa\/orders\/([^/]+)\/settle-external$/.exec(req.path)) && req.method === 'POST') {
      try {
        const parts: Partial<Omit<NhsaSimSplit, 'totalFen'>> = {};
        for (const k of ['fundFen', 'psnAcctFen', 'otherFen', 'cashFen'] as const)
          if (Number.isSafeInteger(body[k]) && body[k] >= 0) parts[k] = body[k];
        const o = this.settleExternal(
          decodeURIComponent(m[1]!),
          parts,
          typeof body.setlId === 'string' ? body.setlId : undefined,
        );
        if (body.notify === true && typeof body.notifyUrl === 'string') {
          o.notifyUrl = body.notifyUrl;
          this.notify(o);
        }
        return json(200, this.orderView(o));
      } catch (e) {
        return json(409, { code: 'NOT_SETTLEABLE', message: (e as Error).message });
      }
    }
    if ((m = /^\/sim\/nhsa\/orders\/([^/]+)\/resend$/.exec(req.path)) && req.method === 'POST') {
      const o = this.orders.get(decodeURIComponent(m[1]!));
      if (!o?.lastNotification)
        return json(404, { code: 'NOT_FOUND', message: 'no notification for this order' });
      o.notificationsSent++;
      return json(200, { status: await this.deliver(o, Number.MAX_SAFE_INTEGER) });
    }
    return json(404, { code: 'NOT_FOUND', message: 'unknown control call' });
  }

  private static returnUrlOf(s: string | null): URL | undefined {
    try {
      const u = new URL(s ?? '');
      return u.protocol === 'http:' || u.protocol === 'https:' ? u : undefined;
    } catch {
      return undefined;
    }
  }

  /** The authorisation page (医保电子凭证 authorisation), standing in for the real one. */
  private authPage(q: URLSearchParams): SimReply {
    const state = q.get('state') ?? '';
    const back = NhsaSimulator.returnUrlOf(q.get('returnUrl'));
    const rows = [...this.persons.values()]
      .map(
        (p) => `<form method="post" class="p"><input type="hidden" name="psnNo" value="${esc(p.psnNo)}">
<input type="hidden" name="state" value="${esc(state)}"><input type="hidden" name="returnUrl" value="${esc(back?.toString() ?? '')}">
<div><b>${esc(maskName(p.name))}</b> ${esc(maskId(p.idNo))}<br><small>险种 ${esc(p.insutype)} · 个人账户余额 ¥${yuan(p.balanceFen)}</small></div>
<button name="action" value="authorize" ${back ? '' : 'disabled'}>授权</button></form>`,
      )
      .join('\n');
    const html = `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>医保移动支付授权（沙箱）</title><style>body{font-family:sans-serif;max-width:440px;margin:32px auto;padding:0 12px}
.p{display:flex;justify-content:space-between;align-items:center;border:1px solid #ddd;border-radius:8px;padding:12px;margin:10px 0}
button{font-size:16px;padding:10px 18px;border:0;border-radius:6px;color:#fff;background:#1677ff}.c{background:#999}</style></head><body>
<h2>国家医保服务平台 · 医保移动支付授权</h2><p>沙箱环境：请选择参保人并授权医院使用医保电子凭证结算。</p>
${back ? '' : '<p style="color:#c00">缺少或无效的 returnUrl</p>'}${rows}
<form method="post"><input type="hidden" name="state" value="${esc(state)}"><input type="hidden" name="returnUrl" value="${esc(back?.toString() ?? '')}">
<button class="c" name="action" value="cancel" ${back ? '' : 'disabled'}>取消</button></form></body></html>`;
    return { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' }, body: html };
  }

  private authSubmit(req: SimRequest): SimReply {
    if (req.method !== 'POST') return json(405, { code: 'METHOD_NOT_ALLOWED', message: 'GET or POST' });
    const form = new URLSearchParams(req.body);
    const back = NhsaSimulator.returnUrlOf(form.get('returnUrl'));
    if (!back) return json(400, { code: 'PARAM_ERROR', message: 'returnUrl is required' });
    back.searchParams.set('state', form.get('state') ?? '');
    if (form.get('action') === 'authorize') {
      try {
        back.searchParams.set('authCode', this.issueAuthCode(form.get('psnNo') ?? ''));
      } catch (e) {
        return json(404, { code: 'NOT_FOUND', message: (e as Error).message });
      }
    } else back.searchParams.set('error', 'cancelled');
    return { status: 302, headers: { location: back.toString() }, body: '' };
  }
}

/** Data as it goes on the wire: empty values dropped (keys in their own order). */
function normaliseForWire(v: unknown): unknown {
  if (v === null || v === undefined || v === '') return undefined;
  if (Array.isArray(v)) {
    const a = v.map(normaliseForWire).filter((x) => x !== undefined);
    return a.length ? a : undefined;
  }
  if (typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      const n = normaliseForWire(x);
      if (n !== undefined) o[k] = n;
    }
    return o;
  }
  return v;
}
