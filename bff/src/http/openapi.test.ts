import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type Router from '@koa/router';
import { loadConfig } from '@hp/config';
import type { Deps } from '../deps';
import { canonicalString, signRequest } from '../modules/his/signature';
import { buildOpenApiDocument, documentedOperations, openApiDocumentRoutes, OPERATIONS } from './openapi';
import { renderDocsPage } from './openapi-docs';
import { openApiRoutes, patientRoutes } from './routes';

const configFor = (sandbox: boolean) => loadConfig({}, { nodeEnv: 'test', sandbox });

/** `METHOD /path` of every route a router registers (HEAD comes with GET and is left out). */
function routesOf(...routers: Router[]): string[] {
  const out: string[] = [];
  for (const r of routers)
    for (const layer of r.stack)
      for (const m of layer.methods) if (m !== 'HEAD') out.push(`${m} ${String(layer.path)}`);
  return out.sort();
}

/** Routes that are deliberately not API operations. */
const NOT_OPERATIONS = new Set([
  // The HTML rendering of this very document.
  'GET /open/docs',
]);

describe('OpenAPI document', () => {
  describe.each([true, false])('with sandbox %s', (sandbox) => {
    const config = configFor(sandbox);
    // Building the routers only creates closures: a config is all they read at this point.
    const deps = { config } as unknown as Deps;
    const secret = 'x'.repeat(32);

    it('documents every route of the open and patient routers, and nothing else', () => {
      const registered = routesOf(
        openApiDocumentRoutes(config),
        openApiRoutes(deps, secret),
        patientRoutes(deps, secret),
      ).filter((r) => !NOT_OPERATIONS.has(r));
      const documented = documentedOperations(config)
        .map((op) => `${op.method} ${op.path}`)
        .sort();
      const problems = [
        ...registered
          .filter((r) => !documented.includes(r))
          .map(
            (r) =>
              `${r} is registered in bff/src/http/routes.ts but not documented: add an entry for it to OPERATIONS ` +
              `in bff/src/http/openapi.ts (method, path '${r.split(' ')[1]}', summary, tag, auth, request and ` +
              `response schemas, error codes)`,
          ),
        ...documented
          .filter((r) => !registered.includes(r))
          .map(
            (r) =>
              `${r} is in OPERATIONS (bff/src/http/openapi.ts) but no router registers it: fix or remove the entry`,
          ),
      ];
      expect(problems).toEqual([]);
    });
  });

  const doc = buildOpenApiDocument(configFor(true));

  it('has unique operation ids, a description for every path parameter, and no dangling $ref', () => {
    const ids = OPERATIONS.map((o) => o.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const op of OPERATIONS)
      for (const [, name] of op.path.matchAll(/:([A-Za-z0-9_]+)/g))
        expect([op.operationId, name, op.params?.[name!]]).toEqual([
          op.operationId,
          name,
          expect.any(String),
        ]);
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/(schemas|parameters)\/([^"]+)"/g)];
    expect(refs.length).toBeGreaterThan(0);
    for (const [, kind, name] of refs)
      expect([
        kind,
        name,
        kind === 'schemas' ? doc.components.schemas[name!] : doc.components.parameters[name!],
      ]).toEqual([kind, name, expect.anything()]);
  });

  it('leaves sandbox-only operations out of a production document', () => {
    const prod = buildOpenApiDocument(configFor(false));
    expect(prod.paths['/api/patient/sandbox-login']).toBeUndefined();
    expect(doc.paths['/api/patient/sandbox-login']?.post?.['x-sandbox-only']).toBe(true);
  });

  it("signing guide: every worked example is what the bff's signer computes", () => {
    const examples = doc['x-signing-guide'].examples;
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(examples.some((e) => e.pathAndQuery.includes('?'))).toBe(true);
    for (const e of examples) {
      expect(createHash('sha256').update(e.body, 'utf8').digest('hex')).toBe(e.bodySha256);
      expect(canonicalString(e.method, e.pathAndQuery, e.timestamp, e.nonce, e.body)).toBe(e.stringToSign);
      expect(signRequest(e.secret, e.method, e.pathAndQuery, e.timestamp, e.nonce, e.body)).toBe(e.signature);
      // The prose guide (info.description) shows the same values.
      for (const v of [e.pathAndQuery, e.bodySha256, e.signature]) expect(doc.info.description).toContain(v);
    }
  });

  it('signing guide agrees with the README vector', () => {
    const readme = readFileSync(path.join(__dirname, '../../../README.md'), 'utf8');
    const [first] = doc['x-signing-guide'].examples;
    for (const v of [first!.secret, first!.pathAndQuery, first!.timestamp, first!.nonce, first!.body])
      expect(readme).toContain(`\`${v}\``);
    expect(readme).toContain(first!.bodySha256);
    expect(readme).toContain(first!.signature);
  });

  it('renders a self-contained docs page with every operation and the signing guide', () => {
    const html = renderDocsPage(doc);
    for (const op of OPERATIONS) {
      expect(html).toContain(`id="${op.operationId}"`);
      expect(html).toContain(op.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}'));
    }
    for (const e of doc['x-signing-guide'].examples) expect(html).toContain(e.signature);
    expect(html).toContain('id="signing-guide"');
    expect(html).not.toMatch(/<script|<link|src=|url\(/i);
  });
});
