import { createCipheriv, createSign, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { sm2 } from 'sm-crypto-v2';
import { z } from 'zod';
import * as shared from '@hp/shared';
import { AlipayChannel } from '../../bff/src/channels/alipay/adapter';
import { extractTradeBill, parseAlipayTradeBill } from '../../bff/src/channels/alipay/trade-bill';
import {
  BANKPAY_DEFAULT_USER_ID,
  BANKPAY_STATEMENT_HEADER,
  BankPayChannel,
  canonicalString,
  parseBankStatement,
  signCanonical,
} from '../../bff/src/channels/bankpay/adapter';
import { BankCreditChannel } from '../../bff/src/channels/credit/adapter';
import { MisposStatementSource } from '../../bff/src/channels/mispos/adapter';
import { parseTerminalStatement } from '../../bff/src/channels/mispos/terminal-statement';
import { NhsaChannel } from '../../bff/src/channels/nhsa/adapter';
import { NhsaEnvelopeError, openEnvelope, sealEnvelope } from '../../bff/src/channels/nhsa/envelope';
import { StatementError } from '../../bff/src/channels/statement';
import { NotificationRejected, type StatementLine, type StatementTotals } from '../../bff/src/channels/types';
import { WechatMedInsChannel } from '../../bff/src/channels/wechat-medins/adapter';
import { WechatPayV3Channel, flatXml } from '../../bff/src/channels/wechatpay/adapter';
import { parseFundFlowBill } from '../../bff/src/channels/wechatpay/fund-flow-bill';
import { parseTradeBill } from '../../bff/src/channels/wechatpay/trade-bill';
import { decodeGbk, encodeGbk } from '../../bff/src/lib/gbk';
import { readZip, writeZip } from '../../bff/src/lib/zip';
import { CancelBillSchema, OrderHistoryQuerySchema, SandboxLoginSchema } from '../../bff/src/http/routes';
import {
  InsuranceAuthorizeCompleteSchema,
  InsuranceAuthorizeRequestSchema,
} from '../../bff/src/modules/insurance/routes';
import { HisLedgerPushSchema } from '../../bff/src/modules/recon/intake';
import { rsaPair } from '../../bff/src/sandbox/keys';

/**
 * Parser fuzzing (issue 10, security suite): every parser of what arrives from outside — the channels' statement
 * files, the v2 XML replies, every adapter's notification parser, the national platform's envelope and the zod
 * request contracts — fed random and randomly mutated input. "No crash" means: nothing is thrown but the parser's
 * own declared error (StatementError, NotificationRejected, NhsaEnvelopeError), and where a parser answers a result
 * instead of throwing (parseStatementFile, safeParse) it never throws at all. Notification parsers are also fed
 * bodies that are correctly signed (and encrypted) with the channel's key, so the code after the signature check
 * sees arbitrary content too. Fixed seed: a failure reproduces; `FUZZ_SEED` and `FUZZ_RUNS` explore further.
 */

const FIXTURES = path.resolve(__dirname, '../fixtures');
const RUNS = Number(process.env.FUZZ_RUNS ?? 200);
const SEED = Number(process.env.FUZZ_SEED ?? 20261123);
const params = (numRuns = RUNS): fc.Parameters<unknown> => ({ numRuns, seed: SEED });

/** Calls `f`; returns what it threw when that is one of `allowed`, rethrows anything else (the property fails). */
function onlyThrows(allowed: (new (...a: never[]) => Error)[], f: () => unknown): unknown {
  try {
    return f();
  } catch (e) {
    if (allowed.some((c) => e instanceof c)) return e;
    throw e;
  }
}

// ---- mutations of valid files ----------------------------------------------------------------------------------

/** Cells a statement might contain wrongly: empty, backticks, signs, exponents, huge and fractional numbers. */
const nastyCell = fc.oneof(
  fc.constantFrom(
    '',
    '`',
    '`0',
    '-0.00',
    '-1',
    '1e3',
    '0x10',
    'NaN',
    'Infinity',
    '99999999999999999999',
    '9007199254740993',
    '0.001',
    '.5',
    '1.',
    '`-12.34',
    '2026-13-40 25:61:61',
    '2026-03-14 08:15:02',
    '20260314',
    'SUCCESS',
    'REFUND',
    '消费',
    '退货',
    'PAY',
    'TOTAL',
    '"',
    '""',
    '\t',
    '#',
  ),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
  fc.integer().map(String),
);

const lineMutation = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swap' as const), at: fc.nat(), to: fc.nat() }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('cell' as const), at: fc.nat(), cell: fc.nat(), value: nastyCell }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), value: fc.string({ maxLength: 40 }) }),
  fc.record({ op: fc.constant('char' as const), at: fc.nat(), value: fc.string({ maxLength: 2 }) }),
);

/** Applies line- and cell-level mutations to a text file (lines split on \n, \r kept). */
function mutateText(text: string, muts: MutationOf[]): string {
  let lines = text.split('\n');
  for (const m of muts) {
    if (lines.length === 0) lines = [''];
    const i = m.at % lines.length;
    switch (m.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, lines[i]!);
        break;
      case 'swap': {
        const j = m.to % lines.length;
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
        break;
      }
      case 'truncate':
        lines = lines.slice(0, i);
        break;
      case 'cell': {
        const cells = lines[i]!.split(',');
        cells[m.cell % cells.length] = m.value;
        lines[i] = cells.join(',');
        break;
      }
      case 'insert':
        lines.splice(i, 0, m.value);
        break;
      case 'char': {
        const l = lines[i]!;
        const at = l.length ? m.at % l.length : 0;
        lines[i] = l.slice(0, at) + m.value + l.slice(at + 1);
        break;
      }
    }
  }
  return lines.join('\n');
}
type MutationOf = typeof lineMutation extends fc.Arbitrary<infer T> ? T : never;
const mutations = fc.array(lineMutation, { minLength: 1, maxLength: 4 });

const byteMutation = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('cut' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);
function mutateBytes(buf: Buffer, muts: (typeof byteMutation extends fc.Arbitrary<infer T> ? T : never)[]) {
  let b = Buffer.from(buf);
  for (const m of muts) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.op === 'flip') b[at] = b[at]! ^ (1 << m.bit);
    else if (m.op === 'cut') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
    else if (m.op === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
    else b = b.subarray(0, at);
  }
  return b;
}
const byteMutations = fc.array(byteMutation, { minLength: 1, maxLength: 4 });

/** A parse that succeeded must be self-consistent: the totals are the lines' own, amounts are safe integers. */
function expectConsistent(parsed: { lines: StatementLine[]; totals: StatementTotals }) {
  const pays = parsed.lines.filter((l) => l.kind === 'PAYMENT');
  const refunds = parsed.lines.filter((l) => l.kind === 'REFUND');
  expect(parsed.totals.paymentCount).toBe(pays.length);
  expect(parsed.totals.refundCount).toBe(refunds.length);
  for (const l of parsed.lines) {
    expect(Number.isSafeInteger(l.amountFen)).toBe(true);
    expect(l.occurredAt instanceof Date && !Number.isNaN(l.occurredAt.getTime())).toBe(true);
  }
}

// ---- fixtures --------------------------------------------------------------------------------------------------

const tradeBill = readFileSync(path.join(FIXTURES, 'wechatpay/tradebill-ALL-2026-03-14.csv'));
const fundFlow = readFileSync(path.join(FIXTURES, 'recon/fundflow-BASIC-2026-03-14.csv'));
const alipayZip = readFileSync(path.join(FIXTURES, 'alipay/20880000000000010156_20260314.csv.zip'));
const misposFile = readFileSync(path.join(FIXTURES, 'recon/mispos-898330160120001-20260314.txt'));
const BANK_MERCHANT = '999000000000001';
const bankStatement = Buffer.from(
  [
    BANKPAY_STATEMENT_HEADER.join(','),
    `PAY,${BANK_MERCHANT},ORD1,BT1,,,12850,77,2026-03-14 08:15:02,SUCCESS,UNIONPAY`,
    `PAY,${BANK_MERCHANT},ORD2,BT2,,,2500,15,2026-03-14 09:00:00,SUCCESS,WECHAT`,
    `REFUND,${BANK_MERCHANT},ORD1,BT1,RFD1,BR1,1000,6,2026-03-14 10:00:00,SUCCESS,`,
    `TOTAL,2026-03-14,${BANK_MERCHANT},2,15350,1,1000,86`,
    '',
  ].join('\r\n'),
);

describe('statement parsers under fuzzing', () => {
  it('the fixtures parse as they are (the mutations start from valid files)', () => {
    expect(parseTradeBill(tradeBill, { mchId: '1900009999' }).lines).toHaveLength(6);
    expect(parseFundFlowBill(fundFlow).lines).toHaveLength(10);
    const { text } = extractTradeBill(alipayZip);
    expect(parseAlipayTradeBill(text, { sellerId: '2088000000000001' }).lines).toHaveLength(4);
    expect(
      parseTerminalStatement(misposFile, { merchantNo: '898330160120001', billDate: '2026-03-14' }).lines
        .length,
    ).toBeGreaterThan(0);
    expect(
      parseBankStatement(bankStatement, { billDate: '2026-03-14', merchantNo: BANK_MERCHANT }).lines,
    ).toHaveLength(3);
  });

  it('WeChat trade bill: mutated files either parse consistently or are refused with StatementError', () => {
    fc.assert(
      fc.property(mutations, fc.boolean(), (muts, partner) => {
        const file = Buffer.from(mutateText(tradeBill.toString('utf8'), muts));
        const out = onlyThrows([StatementError], () =>
          parseTradeBill(file, { mchId: '1900009999', subMchId: partner ? '1900000001' : undefined }),
        );
        if (!(out instanceof StatementError)) expectConsistent(out as never);
      }),
      params(),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        onlyThrows([StatementError], () => parseTradeBill(Buffer.from(bytes), { mchId: '1900009999' }));
      }),
      params(100),
    );
  });

  it('WeChat fund-flow bill: mutated files parse consistently or are refused with StatementError', () => {
    fc.assert(
      fc.property(mutations, (muts) => {
        const file = Buffer.from(mutateText(fundFlow.toString('utf8'), muts));
        const out = onlyThrows([StatementError], () => parseFundFlowBill(file)) as
          StatementError | ReturnType<typeof parseFundFlowBill>;
        if (!(out instanceof StatementError)) {
          for (const l of out.lines) expect(Number.isSafeInteger(l.amountFen)).toBe(true);
        }
      }),
      params(),
    );
  });

  it('Alipay bill archive: mutated zips and mutated CSVs inside valid zips only ever give StatementError', () => {
    const [entry] = readZip(alipayZip).filter((e) => /业务明细\.csv$/.test(e.name));
    const csv = decodeGbk(entry!.data);
    fc.assert(
      fc.property(byteMutations, (muts) => {
        const out = onlyThrows([StatementError], () => {
          const { text } = extractTradeBill(mutateBytes(alipayZip, muts));
          return parseAlipayTradeBill(text, { sellerId: '2088000000000001' });
        });
        if (!(out instanceof StatementError)) expectConsistent(out as never);
      }),
      params(),
    );
    fc.assert(
      fc.property(mutations, (muts) => {
        let data: Buffer;
        try {
          data = encodeGbk(mutateText(csv, muts));
        } catch {
          return; // a mutation GBK cannot encode: not a file Alipay could send
        }
        const zip = writeZip([{ name: entry!.name, data }], { names: 'gbk' });
        const channelLike = onlyThrows([StatementError], () =>
          parseAlipayTradeBill(extractTradeBill(zip).text, { sellerId: '2088000000000001' }),
        );
        if (!(channelLike instanceof StatementError)) expectConsistent(channelLike as never);
      }),
      params(),
    );
  });

  it('bank aggregator statement: the parser throws plain Errors only (no TypeError), the adapter never throws', () => {
    const bank = new BankPayChannel({
      appId: 'hpsandbox001',
      merchantNo: BANK_MERCHANT,
      keyId: 'K1',
      privateKeyHex: bankKeys.ours.privateKey,
      bankKeyId: 'B1',
      bankPublicKeyHex: bankKeys.bank.publicKey,
      baseUrl: 'http://127.0.0.1:9/',
      timeoutMs: 1000,
    });
    fc.assert(
      fc.property(mutations, (muts) => {
        const file = Buffer.from(mutateText(bankStatement.toString('utf8'), muts));
        try {
          const parsed = parseBankStatement(file, { billDate: '2026-03-14', merchantNo: BANK_MERCHANT });
          expectConsistent(parsed as never);
        } catch (e) {
          // Its declared failure is an Error with a reason; a TypeError or RangeError would be a crash.
          expect((e as Error).constructor).toBe(Error);
        }
        const out = bank.parseStatementFile(file, '2026-03-14');
        expect(['SUCCESS', 'FAIL']).toContain(out.result);
      }),
      params(),
    );
  });

  it('MISPOS terminal statement: mutated GBK files give StatementError only; the source never throws', () => {
    const source = new MisposStatementSource(
      {
        acquirer: '测试银行',
        merchantNo: '898330160120001',
        statement: { url: 'http://127.0.0.1:9/{date}.txt', publishHour: 9 },
      },
      { timeoutMs: 1000, production: false },
    );
    const text = decodeGbk(misposFile);
    fc.assert(
      fc.property(mutations, fc.boolean(), (muts, asUtf8) => {
        const mutated = mutateText(text, muts);
        let file: Buffer;
        try {
          file = asUtf8
            ? Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(mutated)])
            : encodeGbk(mutated);
        } catch {
          return;
        }
        const out = onlyThrows([StatementError], () =>
          parseTerminalStatement(file, { merchantNo: '898330160120001', billDate: '2026-03-14' }),
        );
        if (!(out instanceof StatementError)) {
          expectConsistent(out as never);
          // A full card number is never accepted, whatever else the file says.
          for (const row of mutated.split('\n').filter((l) => l.startsWith('D,')))
            expect(row.split(',')[3]).not.toMatch(/\d{12,}/);
        }
        expect(['SUCCESS', 'FAIL']).toContain(source.parseStatementFile(file, '2026-03-14').result);
      }),
      params(),
    );
    fc.assert(
      fc.property(byteMutations, (muts) => {
        onlyThrows([StatementError], () =>
          parseTerminalStatement(mutateBytes(misposFile, muts), {
            merchantNo: '898330160120001',
            billDate: '2026-03-14',
          }),
        );
      }),
      params(150),
    );
  });
});

describe('the v2 XML parser under fuzzing', () => {
  it('never throws, returns string fields only, and stays linear on hostile input', () => {
    const tag = fc.constantFrom('xml', 'return_code', 'result_code', 'sign', 'a', 'b1', '');
    const piece = fc.oneof(
      tag.map((t) => `<${t}>`),
      tag.map((t) => `</${t}>`),
      fc.constantFrom('<![CDATA[', ']]>', '<', '>', '</', '<!--', '&amp;', '\u0000'),
      fc.string({ maxLength: 10 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), (pieces) => {
        const out = flatXml(pieces.join(''));
        for (const [k, v] of Object.entries(out)) {
          expect(k).toMatch(/^\w+$/);
          expect(typeof v).toBe('string');
        }
      }),
      params(500),
    );
    // A reply of repeated openings without closings must not take quadratic-or-worse time.
    const hostile = '<a><![CDATA['.repeat(4000) + '<b>'.repeat(4000);
    const started = Date.now();
    flatXml(hostile);
    expect(Date.now() - started).toBeLessThan(2000);
  });
});

// ---- notification parsers --------------------------------------------------------------------------------------

const bankKeys = { ours: sm2.generateKeyPairHex(), bank: sm2.generateKeyPairHex() };
const anyJson = fc.jsonValue({ maxDepth: 3 });
/** Strings a field might wrongly carry, and arbitrary JSON for fields that should be strings. */
const fieldValue = fc.oneof(nastyCell, anyJson);

describe('notification parsers under fuzzing: only NotificationRejected ever escapes', () => {
  const platform = rsaPair();
  const merchant = rsaPair();
  const alipayApp = rsaPair();
  const alipayGateway = rsaPair();
  const platformKeyId = 'PUB_KEY_ID_FUZZ0001';
  const apiV3Key = randomBytes(16).toString('hex');
  const wechat = new WechatPayV3Channel({
    mchId: '1900000001',
    appId: 'wxfuzz0000000001',
    serialNo: 'FUZZSERIAL',
    privateKeyPem: merchant.privatePem,
    apiV3Key,
    platformKeyId,
    platformPublicKeyPem: platform.publicPem,
    baseUrl: 'http://127.0.0.1:9/',
    timeoutMs: 1000,
  });
  const medins = new WechatMedInsChannel({
    mchId: '1900000001',
    appId: 'wxfuzz0000000001',
    serialNo: 'FUZZSERIAL',
    privateKeyPem: merchant.privatePem,
    apiV3Key,
    platformKeyId,
    platformPublicKeyPem: platform.publicPem,
    baseUrl: 'http://127.0.0.1:9/',
    cityId: '110100',
    medInstName: '示范医院',
    medInstNo: 'H11010500001',
    timeoutMs: 1000,
  });
  const alipay = new AlipayChannel({
    appId: '2021000000000001',
    sellerId: '2088000000000001',
    privateKeyPem: alipayApp.privatePem,
    alipayPublicKeyPem: alipayGateway.publicPem,
    baseUrl: 'http://127.0.0.1:9/',
    timeoutMs: 1000,
  });
  const bankOpts = {
    appId: 'hpsandbox001',
    merchantNo: BANK_MERCHANT,
    keyId: 'K1',
    privateKeyHex: bankKeys.ours.privateKey,
    bankKeyId: 'B1',
    bankPublicKeyHex: bankKeys.bank.publicKey,
    baseUrl: 'http://127.0.0.1:9/',
    timeoutMs: 1000,
  };
  const bankpay = new BankPayChannel(bankOpts);
  const credit = new BankCreditChannel(bankOpts);
  const nhsaPlatform = sm2.generateKeyPairHex();
  const nhsaApp = {
    appId: 'NHSAFUZZ0000001ABCDEF0123456789A',
    appSecret: 'FUZZSECRET000000000000000000001X',
    orgCode: 'H11010500001',
  };
  const nhsa = new NhsaChannel({
    ...nhsaApp,
    orgName: '示范医院',
    privateKeyHex: sm2.generateKeyPairHex().privateKey,
    platformPublicKeyHex: nhsaPlatform.publicKey,
    baseUrl: 'http://127.0.0.1:9/',
    authPageUrl: 'http://127.0.0.1:9/auth',
    admdvs: '110100',
    timeoutMs: 1000,
  });

  const headerNames = fc.constantFrom(
    'wechatpay-timestamp',
    'wechatpay-nonce',
    'wechatpay-serial',
    'wechatpay-signature',
    'content-type',
    'Wechatpay-Timestamp',
  );
  const anyHeaders = fc.dictionary(headerNames, fc.oneof(nastyCell, fc.constant(platformKeyId)));
  const parsers: [string, (h: Record<string, string | undefined>, b: string) => unknown][] = [
    ['wechatpay', (h, b) => wechat.parseNotification(h, b, new Date())],
    ['wxmedins', (h, b) => medins.parseNotification(h, b, new Date())],
    ['alipay', (h, b) => alipay.parseNotification(h, b)],
    ['bankpay', (h, b) => bankpay.parseNotification(h, b, new Date())],
    ['credit', (h, b) => credit.parseNotification(h, b, new Date())],
    ['nhsa', (h, b) => nhsa.parseNotification(h, b, new Date())],
  ];

  it.each(parsers)('%s: arbitrary unsigned bodies and headers', (_name, parse) => {
    const body = fc.oneof(
      fc.string({ maxLength: 200 }),
      anyJson.map((v) => JSON.stringify(v)),
      fc
        .dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }))
        .map((d) => new URLSearchParams(d).toString()),
    );
    fc.assert(
      fc.property(anyHeaders, body, (headers, raw) => {
        const out = onlyThrows([NotificationRejected], () => parse(headers, raw));
        // Nothing unsigned is ever believed.
        expect(out).toBeInstanceOf(NotificationRejected);
      }),
      params(200),
    );
  });

  /** A v3 notification signed with the platform key, its resource encrypted with the APIv3 key. */
  const wechatSigned = (envelope: Record<string, unknown>, resource: unknown, rawEnvelope?: unknown) => {
    const nonce = randomBytes(9).toString('base64url').slice(0, 12);
    const aad = 'transaction';
    const c = createCipheriv('aes-256-gcm', Buffer.from(apiV3Key, 'ascii'), Buffer.from(nonce, 'ascii'));
    c.setAAD(Buffer.from(aad));
    const ciphertext = Buffer.concat([
      c.update(JSON.stringify(resource) ?? 'null', 'utf8'),
      c.final(),
      c.getAuthTag(),
    ]).toString('base64');
    const body =
      rawEnvelope !== undefined
        ? JSON.stringify(rawEnvelope)
        : JSON.stringify({
            ...envelope,
            resource: { algorithm: 'AEAD_AES_256_GCM', ciphertext, nonce, associated_data: aad },
          });
    const ts = String(Math.floor(Date.now() / 1000));
    const hn = randomBytes(8).toString('hex');
    const signature = createSign('RSA-SHA256')
      .update(`${ts}\n${hn}\n${body}\n`)
      .sign(platform.privatePem, 'base64');
    return {
      headers: {
        'wechatpay-timestamp': ts,
        'wechatpay-nonce': hn,
        'wechatpay-serial': platformKeyId,
        'wechatpay-signature': signature,
      },
      body,
    };
  };
  const wechatEnvelope = fc.record(
    {
      id: fieldValue,
      event_type: fc.oneof(
        fc.constantFrom(
          'TRANSACTION.SUCCESS',
          'REFUND.SUCCESS',
          'REFUND.ABNORMAL',
          'MEDICAL_INSURANCE.SUCCESS',
        ),
        fieldValue,
      ),
      create_time: fieldValue,
    },
    { requiredKeys: [] },
  );
  const wechatResource = fc.oneof(
    anyJson,
    fc.record(
      {
        out_trade_no: fieldValue,
        trade_state: fc.oneof(fc.constantFrom('SUCCESS', 'NOTPAY', 'REFUND'), fieldValue),
        transaction_id: fieldValue,
        amount: fc.oneof(fieldValue, fc.record({ total: fieldValue, refund: fieldValue })),
        success_time: fieldValue,
        mchid: fieldValue,
        appid: fieldValue,
        out_refund_no: fieldValue,
        status: fieldValue,
        mix_pay_status: fc.oneof(fc.constantFrom('MIX_PAY_SUCCESS', 'MIX_PAY_FAIL'), fieldValue),
        self_pay_status: fieldValue,
        med_ins_pay_status: fieldValue,
        total_fee: fieldValue,
        med_ins_gov_fee: fieldValue,
        med_ins_self_fee: fieldValue,
        med_ins_other_fee: fieldValue,
        med_ins_cash_fee: fieldValue,
        wechat_pay_cash_fee: fieldValue,
        cash_add_detail: fieldValue,
        cash_reduce_detail: fieldValue,
        mix_trade_no: fieldValue,
      },
      { requiredKeys: [] },
    ),
  );

  it.each([
    ['wechatpay', wechat],
    ['wxmedins', medins],
  ] as const)('%s: correctly signed and encrypted envelopes with arbitrary content', (_n, adapter) => {
    fc.assert(
      fc.property(wechatEnvelope, wechatResource, fc.option(anyJson, { freq: 4 }), (env, res, raw) => {
        const n = wechatSigned(env, res, raw ?? undefined);
        onlyThrows([NotificationRejected], () => adapter.parseNotification(n.headers, n.body, new Date()));
      }),
      params(200),
    );
  });

  it('alipay: correctly signed forms with arbitrary fields', () => {
    const form = fc.record(
      {
        notify_id: fieldValue.map((v) => (typeof v === 'string' ? v : JSON.stringify(v))),
        notify_type: fc.constantFrom('trade_status_sync', ''),
        app_id: fc.constantFrom('2021000000000001', '2021000000000002', ''),
        out_trade_no: nastyCell,
        trade_status: fc.oneof(fc.constantFrom('TRADE_SUCCESS', 'WAIT_BUYER_PAY', 'TRADE_CLOSED'), nastyCell),
        total_amount: nastyCell,
        gmt_payment: nastyCell,
        trade_no: nastyCell,
        seller_id: nastyCell,
        subject: fc.string({ maxLength: 10 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(form, (f) => {
        const p: Record<string, string> = { ...f, sign_type: 'RSA2' };
        const text = Object.keys(p)
          .filter((k) => k !== 'sign' && k !== 'sign_type' && p[k] !== '')
          .sort()
          .map((k) => `${k}=${p[k]}`)
          .join('&');
        p.sign = createSign('RSA-SHA256').update(text, 'utf8').sign(alipayGateway.privatePem, 'base64');
        onlyThrows([NotificationRejected], () =>
          alipay.parseNotification({}, new URLSearchParams(p).toString()),
        );
      }),
      params(200),
    );
  });

  it.each([
    ['bankpay', bankpay],
    ['credit', credit],
  ] as const)('%s: correctly signed envelopes with arbitrary bizContent', (_n, adapter) => {
    const biz = fc.oneof(
      anyJson.map((v) => JSON.stringify(v)),
      fc.string({ maxLength: 30 }),
      fc
        .record(
          {
            outTradeNo: fieldValue,
            tradeStatus: fc.oneof(fc.constantFrom('SUCCESS', 'CLOSED', 'NOTPAY'), fieldValue),
            amountFen: fieldValue,
            finishedAt: fieldValue,
            outRefundNo: fieldValue,
            refundStatus: fieldValue,
            refundAmountFen: fieldValue,
            merchantNo: fieldValue,
            bankTradeNo: fieldValue,
          },
          { requiredKeys: [] },
        )
        .map((v) => JSON.stringify(v)),
    );
    fc.assert(
      fc.property(
        biz,
        fc.constantFrom('TRADE.SUCCESS', 'TRADE.FAIL', 'REFUND.SUCCESS', 'OTHER'),
        fc.string({ maxLength: 12 }).map((s) => s.replace(/[&=]/g, '')),
        (bizContent, notifyType, notifyId) => {
          const env: Record<string, string> = {
            appId: bankOpts.appId,
            merchantNo: bankOpts.merchantNo,
            notifyId: notifyId || 'N1',
            notifyType,
            version: '1.0',
            signType: 'SM2',
            keyId: 'B1',
            timestamp: String(Math.floor(Date.now() / 1000)),
            nonce: randomBytes(8).toString('hex'),
            bizContent,
          };
          env.sign = signCanonical(
            canonicalString(env),
            bankKeys.bank.privateKey,
            bankKeys.bank.publicKey,
            BANKPAY_DEFAULT_USER_ID,
          );
          onlyThrows([NotificationRejected], () =>
            adapter.parseNotification({}, JSON.stringify(env), new Date()),
          );
        },
      ),
      params(150),
    );
  });

  it('nhsa 6302: correctly sealed envelopes with arbitrary data', () => {
    const data = fc.oneof(
      anyJson,
      fc.record(
        {
          orgCodg: fc.oneof(fc.constant(nhsaApp.orgCode), fieldValue),
          payOrdId: fieldValue,
          medOrgOrd: fieldValue,
          ordStas: fc.oneof(fc.constantFrom('1', '4', '6', '12'), fieldValue),
          feeSumamt: fieldValue,
          fundPay: fieldValue,
          psnAcctPay: fieldValue,
          othPay: fieldValue,
          ownPayAmt: fieldValue,
          setlId: fieldValue,
          setlTime: fieldValue,
          notifyId: fieldValue,
        },
        { requiredKeys: [] },
      ),
    );
    fc.assert(
      fc.property(data, (d) => {
        const env = sealEnvelope(d, { ...nhsaApp, privateKeyHex: nhsaPlatform.privateKey });
        onlyThrows([NotificationRejected], () => nhsa.parseNotification({}, JSON.stringify(env), new Date()));
      }),
      params(150),
    );
  });
});

describe('the national platform envelope under fuzzing', () => {
  const platformKey = sm2.generateKeyPairHex();
  const app = { appId: 'NHSAFUZZ0000002ABCDEF0123456789B', appSecret: 'FUZZSECRET000000000000000000002Y' };
  const keys = { ...app, publicKey: platformKey.publicKey };
  const genuine = sealEnvelope(
    { payOrdId: 'PO1', ordStas: '4' },
    { ...app, privateKeyHex: platformKey.privateKey },
  );

  it('openEnvelope throws only NhsaEnvelopeError, for arbitrary values and for mutated genuine envelopes', () => {
    fc.assert(
      fc.property(fc.anything({ maxDepth: 3 }), (v) => {
        onlyThrows([NhsaEnvelopeError], () => openEnvelope(v, keys));
      }),
      params(300),
    );
    const mutatedField = fc.record({
      key: fc.constantFrom(
        'appId',
        'encType',
        'signType',
        'timestamp',
        'version',
        'encData',
        'signData',
        'extra',
        'x',
      ),
      value: fc.oneof(fieldValue, fc.constant(undefined)),
    });
    fc.assert(
      fc.property(fc.array(mutatedField, { minLength: 1, maxLength: 3 }), (changes) => {
        const env: Record<string, unknown> = { ...genuine };
        for (const c of changes) env[c.key] = c.value;
        const out = onlyThrows([NhsaEnvelopeError], () => openEnvelope(env, keys));
        // Any change to a signed field or the ciphertext is refused.
        if (
          changes.some((c) => c.key !== 'extra' && c.key !== 'x' && env[c.key] !== (genuine as never)[c.key])
        )
          expect(out).toBeInstanceOf(NhsaEnvelopeError);
      }),
      params(300),
    );
    // Deeply nested JSON where only plain values are allowed, and in the unsigned `extra`.
    const deep = JSON.parse('['.repeat(5000) + ']'.repeat(5000));
    onlyThrows([NhsaEnvelopeError], () => openEnvelope({ ...genuine, extra: deep }, keys));
    onlyThrows([NhsaEnvelopeError], () => openEnvelope({ ...genuine, appId: deep }, keys));
  });
});

describe('zod request contracts never throw from safeParse', () => {
  const fromShared = Object.entries(shared).filter(([, v]) => v instanceof z.ZodType) as [
    string,
    z.ZodType,
  ][];
  const schemas: [string, z.ZodType][] = [
    ...fromShared,
    ['CancelBillSchema', CancelBillSchema],
    ['SandboxLoginSchema', SandboxLoginSchema],
    ['OrderHistoryQuerySchema', OrderHistoryQuerySchema],
    ['InsuranceAuthorizeRequestSchema', InsuranceAuthorizeRequestSchema],
    ['InsuranceAuthorizeCompleteSchema', InsuranceAuthorizeCompleteSchema],
    ['HisLedgerPushSchema', HisLedgerPushSchema as z.ZodType],
  ];

  it('covers every schema shared/ exports', () => {
    expect(fromShared.length).toBeGreaterThanOrEqual(30);
    expect(fromShared.map(([n]) => n)).toEqual(
      expect.arrayContaining(['PushBillsRequestSchema', 'CreateOrderRequestSchema', 'BindCardRequestSchema']),
    );
  });

  it.each(schemas)('%s', (_name, schema) => {
    // Arbitrary JSON, and objects whose keys are the schema's own with arbitrary values (deeper paths).
    const keysOf = (s: z.ZodType): string[] => {
      const shape = (s as unknown as { shape?: Record<string, unknown> }).shape;
      return shape ? Object.keys(shape) : [];
    };
    const own = keysOf(schema);
    const shaped =
      own.length > 0
        ? fc.dictionary(fc.constantFrom(...own), fc.oneof(anyJson, fc.array(anyJson, { maxLength: 3 })))
        : anyJson;
    fc.assert(
      fc.property(fc.oneof(anyJson, shaped), (input) => {
        const r = schema.safeParse(input);
        expect(typeof r.success).toBe('boolean');
      }),
      params(200),
    );
  });
});
