import type { JsonSchema, OpenApiDocument, OpenApiOperation, OpenApiParameter } from './openapi';

/**
 * The docs page (`GET /open/docs`): the OpenAPI document rendered as one self-contained HTML page — no
 * script, no stylesheet or font from elsewhere (the machines it is read on often have no internet). It reads
 * only the document, so it shows exactly what `openapi.json` says.
 */
export function renderDocsPage(doc: OpenApiDocument): string {
  const ops = operations(doc);
  const byTag = new Map<string, typeof ops>();
  for (const o of ops) byTag.set(o.op.tags[0] ?? '', [...(byTag.get(o.op.tags[0] ?? '') ?? []), o]);
  const tags = doc.tags.filter((t) => byTag.has(t.name));

  const nav = tags
    .map(
      (t) =>
        `<h4>${esc(t.name)}</h4><ul>${byTag
          .get(t.name)!
          .map(
            ({ method, path, op }) =>
              `<li><a href="#${attr(op.operationId)}"><span class="m m-${method}">${method.toUpperCase()}</span> ${esc(path)}</a></li>`,
          )
          .join('')}</ul>`,
    )
    .join('');

  const body = tags
    .map(
      (t) =>
        `<section><h2 id="${attr(slug(t.name))}">${esc(t.name)}</h2>${t.description ? `<p>${inline(t.description)}</p>` : ''}${byTag
          .get(t.name)!
          .map((o) => operationHtml(doc, o.method, o.path, o.op))
          .join('')}</section>`,
    )
    .join('');

  const errors = `<section><h2 id="error-codes">Error codes</h2>
<p>Every error reply is <code>{ "error": { "code", "message", "requestId" } }</code> with one of these codes.</p>
<table><thead><tr><th>code</th><th>HTTP</th><th>meaning</th></tr></thead><tbody>${doc['x-error-codes']
    .map(
      (e) =>
        `<tr><td><code>${esc(e.code)}</code></td><td>${e.status}</td><td>${inline(e.description)}</td></tr>`,
    )
    .join('')}</tbody></table></section>`;

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(doc.info.title)}</title>
<style>${CSS}</style>
</head>
<body>
<nav>
<p><strong>${esc(doc.info.title)}</strong></p>
<ul><li><a href="#signing-guide">Signing guide</a></li><li><a href="#error-codes">Error codes</a></li>
<li><a href="/open/v1/openapi.json">openapi.json</a></li></ul>
${nav}
</nav>
<main>
<h1>${esc(doc.info.title)}</h1>
<p class="muted">OpenAPI ${esc(doc.openapi)} · version ${esc(doc.info.version)} · machine-readable:
<a href="/open/v1/openapi.json"><code>/open/v1/openapi.json</code></a></p>
${markdown(doc.info.description)}
${errors}
${body}
</main>
</body>
</html>
`;
}

const CSS = `
body{margin:0;font:14px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;color:#1d232a;display:flex}
nav{position:sticky;top:0;height:100vh;overflow:auto;width:300px;flex:none;padding:12px 16px;background:#f4f6f8;border-right:1px solid #dde2e7;box-sizing:border-box}
nav ul{list-style:none;padding:0;margin:0 0 8px}nav li{margin:2px 0}nav a{color:#1d232a;text-decoration:none;font-size:13px}
nav h4{margin:12px 0 4px;color:#5b6570;font-size:12px;text-transform:uppercase}
main{padding:16px 32px 64px;max-width:1100px;min-width:0}
h1{font-size:24px}h2{border-bottom:2px solid #dde2e7;padding-bottom:4px;margin-top:40px}
article{border:1px solid #dde2e7;border-radius:6px;padding:4px 16px 12px;margin:20px 0}
article h3{font-size:16px}
code,pre{font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
pre{background:#f4f6f8;padding:10px;border-radius:4px;overflow:auto}
table{border-collapse:collapse;margin:6px 0 12px;width:100%}
th,td{border:1px solid #dde2e7;padding:3px 8px;text-align:left;vertical-align:top}th{background:#f4f6f8}
.m{display:inline-block;min-width:44px;text-align:center;border-radius:3px;color:#fff;font:bold 11px/18px ui-monospace,monospace}
.m-get{background:#2f7d32}.m-post{background:#1565c0}.m-put,.m-patch{background:#ef6c00}.m-delete{background:#c62828}
.muted{color:#5b6570}.req{color:#c62828}details{margin:4px 0 10px}summary{cursor:pointer;color:#1565c0}
`;

function operations(doc: OpenApiDocument) {
  const out: { method: string; path: string; op: OpenApiOperation }[] = [];
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) out.push({ method, path, op });
  return out;
}

function operationHtml(doc: OpenApiDocument, method: string, path: string, op: OpenApiOperation): string {
  const parts: string[] = [
    `<article id="${attr(op.operationId)}">`,
    `<h3><span class="m m-${method}">${method.toUpperCase()}</span> <code>${esc(path)}</code></h3>`,
    `<p><strong>${inline(op.summary)}</strong> · operationId <code>${esc(op.operationId)}</code>${
      op['x-sandbox-only'] ? ' · <em>sandbox only</em>' : ''
    }</p>`,
  ];
  if (op.description) parts.push(`<p>${inline(op.description)}</p>`);
  parts.push(`<p>Authentication: ${securityText(op)}</p>`);

  const params = op.parameters.map((p) => resolveParameter(doc, p));
  if (params.length)
    parts.push(
      `<h4>Parameters</h4><table><thead><tr><th>name</th><th>in</th><th>type</th><th>description</th></tr></thead><tbody>${params
        .map(
          (p) =>
            `<tr><td><code>${esc(p.name)}</code>${p.required ? ' <span class="req">*</span>' : ''}</td><td>${p.in}</td><td>${typeText(
              p.schema,
            )}${constraintText(p.schema)}</td><td>${inline(p.description ?? '')}</td></tr>`,
        )
        .join('')}</tbody></table>`,
    );

  const request = op.requestBody?.content['application/json']?.schema;
  if (request) parts.push(`<h4>Request body <code>application/json</code></h4>${schemaHtml(doc, request)}`);

  parts.push('<h4>Responses</h4>');
  const errors: string[] = [];
  for (const [status, r] of Object.entries(op.responses)) {
    if (Number(status) < 400) {
      parts.push(`<p><strong>${status}</strong> ${inline(r.description)}</p>`);
      for (const [type, c] of Object.entries(r.content ?? {}))
        parts.push(
          type === 'application/json'
            ? `<p><code>${esc(type)}</code></p>${schemaHtml(doc, c.schema)}`
            : `<p><code>${esc(type)}</code>: binary</p>`,
        );
      for (const [h, v] of Object.entries(r.headers ?? {}))
        parts.push(`<p>Header <code>${esc(h)}</code>: ${inline(v.description)}</p>`);
    } else {
      const codes = errorCodesOf(doc, r.content?.['application/json']?.schema ?? {});
      const meaning = new Map(doc['x-error-codes'].map((e) => [e.code as string, e.description]));
      errors.push(
        `<tr><td>${status}</td><td>${
          codes.length
            ? codes.map((c) => `<code>${esc(c)}</code>: ${inline(meaning.get(c) ?? '')}`).join('<br>')
            : inline(r.description)
        }</td></tr>`,
      );
    }
  }
  if (errors.length)
    parts.push(
      `<table><thead><tr><th>HTTP</th><th>error codes (body: <a href="#error-codes">error reply</a>)</th></tr></thead><tbody>${errors.join(
        '',
      )}</tbody></table>`,
    );
  parts.push('</article>');
  return parts.join('\n');
}

/** The codes an error reply's schema allows (`error.code` enum). */
function errorCodesOf(doc: OpenApiDocument, schema: JsonSchema): string[] {
  const error = objectOf(doc, schema)?.properties as Record<string, JsonSchema> | undefined;
  const code = (error?.error && objectOf(doc, error.error)?.properties) as
    Record<string, JsonSchema> | undefined;
  const values = code?.code?.enum;
  return Array.isArray(values) ? values.map(String) : [];
}

function securityText(op: OpenApiOperation): string {
  const names = op.security.flatMap((s) => Object.keys(s));
  if (names.includes('hisSignature'))
    return 'signed: <code>X-App-Id</code>, <code>X-Timestamp</code>, <code>X-Nonce</code>, <code>X-Signature</code> (<a href="#signing-guide">signing guide</a>)';
  if (names.includes('patientBearer'))
    return '<code>Authorization: Bearer &lt;patient session token&gt;</code>';
  return 'none';
}

function resolveParameter(doc: OpenApiDocument, p: OpenApiParameter | { $ref: string }): OpenApiParameter {
  if ('$ref' in p) {
    const name = p.$ref.replace('#/components/parameters/', '');
    const found = doc.components.parameters[name];
    if (!found) throw new Error(`unknown parameter ${p.$ref}`);
    return found;
  }
  return p;
}

function deref(doc: OpenApiDocument, s: JsonSchema): JsonSchema {
  const r = s.$ref;
  if (typeof r !== 'string') return s;
  return doc.components.schemas[r.replace('#/components/schemas/', '')] ?? {};
}

/** A schema as a table of fields (nested fields as `a.b`, array elements as `a[]`), and its JSON. */
function schemaHtml(doc: OpenApiDocument, schema: JsonSchema): string {
  const name = typeof schema.$ref === 'string' ? schema.$ref.replace('#/components/schemas/', '') : undefined;
  const s = deref(doc, schema);
  const rows: string[] = [];
  fieldRows(doc, s, '', rows, 0);
  const table = rows.length
    ? `<table><thead><tr><th>field</th><th>type</th><th>constraints, description</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
    : `<p>${typeText(s)}${constraintText(s)}</p>`;
  return `${name ? `<p class="muted">schema <code>${esc(name)}</code></p>` : ''}${table}<details><summary>JSON Schema</summary><pre>${esc(
    JSON.stringify(s, null, 2),
  )}</pre></details>`;
}

/** The object variant of a schema, if any (a nullable object is `anyOf: [object, null]`). */
function objectOf(doc: OpenApiDocument, s: JsonSchema): JsonSchema | undefined {
  const d = deref(doc, s);
  if (d.properties && typeof d.properties === 'object') return d;
  for (const v of [...((d.anyOf as JsonSchema[]) ?? []), ...((d.oneOf as JsonSchema[]) ?? [])]) {
    const o = objectOf(doc, v);
    if (o) return o;
  }
  return undefined;
}

function fieldRows(doc: OpenApiDocument, s: JsonSchema, prefix: string, rows: string[], depth: number): void {
  if (depth > 6) return;
  const obj = objectOf(doc, s);
  if (!obj) return;
  const required = new Set((obj.required as string[] | undefined) ?? []);
  for (const [key, raw] of Object.entries(obj.properties as Record<string, JsonSchema>)) {
    const p = deref(doc, raw);
    const name = `${prefix}${key}`;
    rows.push(
      `<tr><td><code>${esc(name)}</code>${required.has(key) ? ' <span class="req">*</span>' : ''}</td><td>${typeText(
        p,
      )}</td><td>${constraintText(p).replace(/^ · /, '')}</td></tr>`,
    );
    fieldRows(doc, p, `${name}.`, rows, depth + 1);
    const items = p.items as JsonSchema | undefined;
    if (items) fieldRows(doc, items, `${name}[].`, rows, depth + 1);
  }
}

function typeText(s: JsonSchema): string {
  if (typeof s.$ref === 'string') return `<code>${esc(s.$ref.replace('#/components/schemas/', ''))}</code>`;
  if ('const' in s) return `<code>${esc(JSON.stringify(s.const))}</code>`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => `<code>${esc(JSON.stringify(v))}</code>`).join(' | ');
  const variants = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (variants) return variants.map(typeText).join(' | ');
  const types = Array.isArray(s.type) ? (s.type as string[]) : typeof s.type === 'string' ? [s.type] : [];
  if (!types.length) return 'any';
  return types
    .map((t) => (t === 'array' && s.items ? `${typeText(s.items as JsonSchema)}[]` : esc(t)))
    .join(' | ');
}

function constraintText(s: JsonSchema): string {
  const c: string[] = [];
  const add = (key: string, label: string) => {
    // zod's int() bounds every integer by the safe-integer range: not worth a mention.
    if (s[key] !== undefined && Math.abs(Number(s[key])) !== Number.MAX_SAFE_INTEGER)
      c.push(`${label} ${esc(JSON.stringify(s[key]))}`);
  };
  add('minLength', 'min length');
  add('maxLength', 'max length');
  add('minimum', '≥');
  add('exclusiveMinimum', '>');
  add('maximum', '≤');
  add('minItems', 'min items');
  add('maxItems', 'max items');
  add('format', 'format');
  add('default', 'default');
  if (typeof s.pattern === 'string') c.push(`pattern <code>${esc(s.pattern)}</code>`);
  if (s.additionalProperties === false) c.push('no other fields');
  if (typeof s.description === 'string') c.push(inline(s.description));
  return c.length ? ` · ${c.join(' · ')}` : '';
}

/** The little markdown the document uses: headings, fenced code, lists, paragraphs, `code`, **bold**. */
function markdown(text: string): string {
  const out: string[] = [];
  const lines = text.split('\n');
  let para: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`);
    if (list.length) out.push(`<ul>${list.map((l) => `<li>${inline(l)}</li>`).join('')}</ul>`);
    para = [];
    list = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.startsWith('```')) {
      flush();
      const code: string[] = [];
      while (++i < lines.length && !lines[i]!.startsWith('```')) code.push(lines[i]!);
      out.push(`<pre>${esc(code.join('\n'))}</pre>`);
    } else if (/^#{1,4} /.test(line)) {
      flush();
      const level = Math.min(Math.max(line.indexOf(' '), 2), 4);
      const title = line.slice(line.indexOf(' ') + 1);
      out.push(`<h${level} id="${attr(slug(title))}">${inline(title)}</h${level}>`);
    } else if (line.startsWith('- ')) {
      if (para.length) flush();
      list.push(line.slice(2));
    } else if (line.trim() === '') {
      flush();
    } else if (list.length) {
      list[list.length - 1] += ` ${line.trim()}`;
    } else {
      para.push(line);
    }
  }
  flush();
  return out.join('\n');
}

function inline(text: string): string {
  return esc(text)
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>');
}

function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');
}

function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const attr = esc;
