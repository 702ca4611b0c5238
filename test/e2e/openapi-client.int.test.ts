import { createHash, createHmac, randomBytes } from 'node:crypto';
import { startTestStack, testKeys, waitFor, type TestStack } from '../support/platform';

/*
 * A HIS client written only from /open/v1/openapi.json and its signing guide: nothing from bff/ is imported
 * for the client (the stack itself comes from test/support, and the patient "pays" at the WeChat Pay
 * simulator as in the other tests). Paths come from the document's templates, found by operationId; the
 * signature is implemented here with node:crypto from the guide; every answer is checked against the
 * document's response schema for its status.
 */

type Json = any;

// ---------------------------------------------------------------------------------------------------------
// A JSON Schema (2020-12) checker for the keywords the document uses; an unknown keyword is an error, so the
// checker never passes a schema it does not understand.

const KNOWN = new Set([
  '$ref',
  'type',
  'enum',
  'const',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'anyOf',
  'oneOf',
  'allOf',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'propertyNames',
  // annotations
  'description',
  'default',
  'format',
  'contentMediaType',
]);

function typeOf(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v;
}

function checkSchema(doc: Json, schema: Json, value: unknown, at = '$'): string[] {
  if (schema === true || schema === undefined) return [];
  if (schema === false) return [`${at}: not allowed`];
  const problems: string[] = [];
  for (const k of Object.keys(schema))
    if (!KNOWN.has(k)) throw new Error(`schema keyword ${k} at ${at} is not understood by this checker`);
  if (schema.$ref) {
    const name = String(schema.$ref).replace('#/components/schemas/', '');
    const target = doc.components.schemas[name];
    if (!target) return [`${at}: dangling $ref ${schema.$ref}`];
    problems.push(...checkSchema(doc, target, value, at));
  }
  if (schema.type !== undefined) {
    const types: string[] = Array.isArray(schema.type) ? schema.type : [schema.type];
    const t = typeOf(value);
    if (!types.includes(t) && !(t === 'integer' && types.includes('number')))
      return [...problems, `${at}: ${JSON.stringify(value)} is ${t}, not ${types.join('|')}`];
  }
  if (schema.enum && !schema.enum.some((e: unknown) => JSON.stringify(e) === JSON.stringify(value)))
    problems.push(`${at}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value))
    problems.push(`${at}: ${JSON.stringify(value)} is not ${JSON.stringify(schema.const)}`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: > ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && value <= schema.exclusiveMinimum)
      problems.push(`${at}: <= ${schema.exclusiveMinimum}`);
    if (schema.exclusiveMaximum !== undefined && value >= schema.exclusiveMaximum)
      problems.push(`${at}: >= ${schema.exclusiveMaximum}`);
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength) problems.push(`${at}: too short`);
    if (schema.maxLength !== undefined && length > schema.maxLength) problems.push(`${at}: too long`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value))
      problems.push(`${at}: ${JSON.stringify(value)} does not match ${schema.pattern}`);
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      problems.push(`${at}: too few items`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      problems.push(`${at}: too many items`);
    if (schema.items)
      value.forEach((v, i) => problems.push(...checkSchema(doc, schema.items, v, `${at}[${i}]`)));
  }
  if (typeOf(value) === 'object') {
    const obj = value as Record<string, unknown>;
    for (const k of schema.required ?? []) if (!(k in obj)) problems.push(`${at}: ${k} is required`);
    for (const [k, v] of Object.entries(obj)) {
      if (schema.propertyNames)
        problems.push(...checkSchema(doc, schema.propertyNames, k, `${at}.${k} (name)`));
      if (schema.properties && k in schema.properties)
        problems.push(...checkSchema(doc, schema.properties[k], v, `${at}.${k}`));
      else if (schema.additionalProperties !== undefined)
        problems.push(...checkSchema(doc, schema.additionalProperties, v, `${at}.${k}`));
    }
  }
  for (const s of schema.allOf ?? []) problems.push(...checkSchema(doc, s, value, at));
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (!schema[key]) continue;
    const passing = schema[key].filter((s: Json) => checkSchema(doc, s, value, at).length === 0).length;
    if (passing === 0 || (key === 'oneOf' && passing > 1))
      problems.push(`${at}: matches ${passing} of the ${key} schemas`);
  }
  return problems;
}

// ---------------------------------------------------------------------------------------------------------
// The signing guide, implemented from its text.

function sign(
  secret: string,
  method: string,
  pathAndQuery: string,
  timestamp: string,
  nonce: string,
  body: string,
) {
  const bodySha256 = createHash('sha256').update(body, 'utf8').digest('hex');
  const stringToSign = `${method.toUpperCase()}\n${pathAndQuery}\n${timestamp}\n${nonce}\n${bodySha256}\n`;
  return {
    bodySha256,
    stringToSign,
    signature: createHmac('sha256', Buffer.from(secret, 'utf8'))
      .update(stringToSign, 'utf8')
      .digest('base64'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The client: operations by operationId, from the document.

interface CallOptions {
  params?: Record<string, string>;
  query?: Record<string, string>;
  body?: unknown;
  token?: string;
  /** Leave the signature headers off (to see the documented refusal). */
  unsigned?: boolean;
  /** The body breaks the request schema on purpose (to see the documented refusal). */
  invalidBody?: boolean;
}

interface Reply {
  status: number;
  contentType: string;
  body: Json;
}

class OpenApiClient {
  constructor(
    private readonly doc: Json,
    private readonly baseUrl: string,
    private readonly app: { appId: string; secret: string },
  ) {}

  operation(operationId: string): { method: string; template: string; op: Json } {
    for (const [template, item] of Object.entries<Json>(this.doc.paths))
      for (const [method, op] of Object.entries<Json>(item))
        if (op.operationId === operationId) return { method: method.toUpperCase(), template, op };
    throw new Error(`the document has no operation ${operationId}`);
  }

  async call(operationId: string, o: CallOptions = {}): Promise<Reply> {
    const { method, template, op } = this.operation(operationId);
    const parameters = (op.parameters as Json[]).map((p) =>
      p.$ref ? this.doc.components.parameters[String(p.$ref).split('/').pop()!] : p,
    );
    for (const p of parameters.filter((p) => p.in === 'path'))
      if (o.params?.[p.name] === undefined)
        throw new Error(`${operationId}: path parameter ${p.name} missing`);
    for (const name of Object.keys(o.query ?? {}))
      if (!parameters.some((p) => p.in === 'query' && p.name === name))
        throw new Error(`${operationId}: the document has no query parameter ${name}`);
    const path = template.replace(/\{([^}]+)\}/g, (_, n: string) => encodeURIComponent(o.params![n]!));
    const query = o.query ? `?${new URLSearchParams(o.query).toString()}` : '';
    const pathAndQuery = `${path}${query}`;

    const headers: Record<string, string> = {};
    let text = '';
    if (o.body !== undefined) {
      const schema = op.requestBody?.content?.['application/json']?.schema;
      if (!schema) throw new Error(`${operationId} takes no body`);
      // Check our own request against the document before sending it.
      const problems = checkSchema(this.doc, schema, o.body, `${operationId} request`);
      if (o.invalidBody) expect(problems).not.toEqual([]);
      else expect(problems).toEqual([]);
      text = JSON.stringify(o.body);
      headers['content-type'] = 'application/json';
    }
    const schemes = (op.security as Json[]).flatMap((s) => Object.keys(s));
    if (schemes.includes('hisSignature') && !o.unsigned) {
      const timestamp = String(Math.floor(Date.now() / 1000));
      const nonce = randomBytes(12).toString('hex');
      headers['x-app-id'] = this.app.appId;
      headers['x-timestamp'] = timestamp;
      headers['x-nonce'] = nonce;
      headers['x-signature'] = sign(this.app.secret, method, pathAndQuery, timestamp, nonce, text).signature;
    }
    if (schemes.includes('patientBearer')) headers.authorization = `Bearer ${o.token}`;

    const res = await fetch(`${this.baseUrl}${pathAndQuery}`, {
      method,
      headers,
      body: o.body === undefined ? undefined : text,
    });
    const contentType = (res.headers.get('content-type') ?? '').split(';')[0]!;
    const raw = Buffer.from(await res.arrayBuffer());
    const documented = op.responses[String(res.status)];
    if (!documented)
      throw new Error(
        `${operationId} answered ${res.status}, not documented: ${raw.toString().slice(0, 300)}`,
      );
    const media = documented.content?.[contentType];
    if (!media) throw new Error(`${operationId} ${res.status} answered ${contentType}, not documented`);
    const body = contentType === 'application/json' ? JSON.parse(raw.toString('utf8')) : raw;
    if (contentType === 'application/json')
      expect(checkSchema(this.doc, media.schema, body, `${operationId} ${res.status}`)).toEqual([]);
    return { status: res.status, contentType, body };
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('a HIS client written from openapi.json alone', () => {
  let s: TestStack;
  let doc: Json;
  let client: OpenApiClient;
  beforeAll(async () => {
    s = await startTestStack();
    const docUrl = `${s.platform.url}/open/v1/openapi.json`;
    const res = await fetch(docUrl); // unsigned
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    doc = await res.json();
    const base = new URL(doc.servers[0].url, docUrl).href.replace(/\/$/, '');
    client = new OpenApiClient(doc, base, testKeys().hospitals.H001!.his);
  });
  afterAll(async () => {
    await s?.stop();
  });

  it('is an OpenAPI 3.1 document of the open and patient APIs, and describes itself', async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const paths = Object.keys(doc.paths);
    expect(paths).toEqual(
      expect.arrayContaining(['/open/v1/bills', '/open/v1/bills/{hisBillNo}', '/api/orders']),
    );
    const self = await client.call('getOpenApiDocument');
    expect(self.body.paths).toEqual(doc.paths);
  });

  it("implements the signing guide so that it reproduces the guide's worked examples", () => {
    const examples = doc['x-signing-guide'].examples as Json[];
    expect(examples.length).toBeGreaterThan(0);
    for (const e of examples) {
      expect(sign(e.secret, e.method, e.pathAndQuery, e.timestamp, e.nonce, e.body)).toEqual({
        bodySha256: e.bodySha256,
        stringToSign: e.stringToSign,
        signature: e.signature,
      });
      expect(doc.info.description).toContain(e.signature);
    }
  });

  it('pushes a bill, gets its QR URL, and reads the bill as paid once the patient paid in the sandbox', async () => {
    const hisBillNo = `OA${Date.now()}${randomBytes(3).toString('hex')}`;
    const hisPatientId = `OAP${randomBytes(4).toString('hex')}`;
    const pushed = await client.call('pushBills', {
      body: {
        bills: [
          {
            hisBillNo,
            patientId: hisPatientId,
            patientName: '王小明',
            visitNo: `OV${Date.now()}`,
            department: '内科',
            doctor: '李医生',
            title: '门诊处方',
            amountFen: 2600,
            items: [
              { name: '阿莫西林胶囊', spec: '0.25g×24', quantity: 2, unit: '盒', amountFen: 2000 },
              { name: '诊查费', quantity: 1, amountFen: 600 },
            ],
          },
        ],
      },
    });
    expect(pushed.status).toBe(200);
    expect(pushed.body.results).toEqual([
      expect.objectContaining({ hisBillNo, outcome: 'created', version: 1 }),
    ]);

    const unpaid = await client.call('getBillStatus', { params: { hisBillNo } });
    expect(unpaid.body).toMatchObject({ hisBillNo, status: 'UNPAID', amountFen: 2600, order: null });

    // The slip QR: JSON, and the PNG (a signed target with a query string).
    const qr = await client.call('getBillQr', { params: { hisBillNo } });
    expect(qr.status).toBe(200);
    expect(qr.body.url).toMatch(/\/h5\/checkout\?t=/);
    const png = await client.call('getBillQr', { params: { hisBillNo }, query: { format: 'png' } });
    expect(png.contentType).toBe('image/png');
    expect((png.body as Buffer).subarray(1, 4).toString()).toBe('PNG');

    // The patient scans it: the checkout reads the bills behind the token, logs in and pays.
    const slipToken = new URL(qr.body.url).searchParams.get('t')!;
    const slip = await client.call('getSlip', { params: { token: slipToken } });
    expect(slip.body.bills).toEqual([expect.objectContaining({ hisBillNo, amountFen: 2600 })]);
    const session = await client.call('sandboxLogin', { body: { hospitalCode: 'H001', hisPatientId } });
    const listed = await client.call('listPatientBills', { token: session.body.token });
    expect(listed.body.bills.map((b: Json) => b.hisBillNo)).toEqual([hisBillNo]);
    const order = await client.call('createOrder', {
      token: session.body.token,
      body: { billIds: [slip.body.bills[0].id], channel: 'wechatpay', tradeType: 'NATIVE' },
    });
    expect(order.status).toBe(201);
    expect(order.body).toMatchObject({ status: 'PAYING', amountFen: 2600 });
    expect(order.body.codeUrl).toMatch(/^weixin:\/\//);

    const paying = await client.call('getBillStatus', { params: { hisBillNo } });
    expect(paying.body.order).toMatchObject({ orderNo: order.body.orderNo, status: 'PAYING' });

    s.sandbox.wechat.pay(order.body.orderNo);

    const paid = await waitFor(
      async () => {
        const r = await client.call('getBillStatus', { params: { hisBillNo } });
        return r.body.status === 'PAID' ? r : undefined;
      },
      15_000,
      'the bill to be PAID',
    );
    expect(paid.body.order).toMatchObject({
      orderNo: order.body.orderNo,
      channel: 'wechatpay',
      amountFen: 2600,
      refundedFen: 0,
    });
    expect(['PAID', 'SETTLED']).toContain(paid.body.order.status);
    expect(paid.body.order.paidAt).toEqual(expect.any(String));

    const byNo = await client.call('getOrder', { params: { orderNo: order.body.orderNo } });
    expect(['PAID', 'SETTLED']).toContain(byNo.body.status);
    expect(byNo.body.id).toBe(order.body.id);
    const mine = await client.call('getPatientOrder', {
      params: { id: order.body.id },
      token: session.body.token,
    });
    expect(mine.body.orderNo).toBe(order.body.orderNo);
  });

  it('gets the documented error replies', async () => {
    const missing = await client.call('getBillStatus', { params: { hisBillNo: 'NO-SUCH-BILL' } });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');

    const unsigned = await client.call('getBillStatus', {
      params: { hisBillNo: 'NO-SUCH-BILL' },
      unsigned: true,
    });
    expect(unsigned.status).toBe(401);
    expect(unsigned.body.error.code).toBe('unauthorized');

    const invalid = await client.call('cancelBill', {
      params: { hisBillNo: 'NO-SUCH-BILL' },
      body: { reason: '' },
      invalidBody: true,
    });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('validation_failed');

    const noToken = await client.call('listPatientBills', { token: 'not-a-token' });
    expect(noToken.status).toBe(401);
  });

  it('serves a self-contained docs page with every operation and the signing guide', async () => {
    const res = await fetch(`${s.platform.url}/open/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const [path, item] of Object.entries<Json>(doc.paths))
      for (const [method, op] of Object.entries<Json>(item)) {
        expect(html).toContain(`id="${op.operationId}"`);
        expect(html).toContain(`${method.toUpperCase()}</span> <code>${path}</code>`);
      }
    expect(html).toContain('Signing guide');
    for (const e of doc['x-signing-guide'].examples) {
      expect(html).toContain(e.signature);
      expect(html).toContain(e.bodySha256);
    }
    for (const { code } of doc['x-error-codes']) expect(html).toContain(`<code>${code}</code>`);
    // Nothing is loaded from elsewhere: no script, stylesheet, image or font by URL.
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(|@import/i);
  });
});
