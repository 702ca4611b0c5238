import type { Context } from 'koa';
import { AppError } from './errors';

/**
 * Reads the request body as raw text up to `limit` bytes. Notifications need the exact bytes to verify a
 * signature, so the bff reads bodies itself instead of a body parser.
 */
export async function readRawBody(ctx: Context, limit: number): Promise<string> {
  const declared = Number(ctx.get('content-length') || 0);
  if (declared > limit) throw new AppError('payload_too_large', `request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new AppError('payload_too_large', `request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** Parses a JSON body; a missing, malformed or non-JSON body is a clear 4xx. */
export function parseJson(raw: string, contentType: string | undefined): unknown {
  if (raw.length === 0) throw new AppError('bad_request', 'request body is required');
  if (contentType && !/^application\/json\b/i.test(contentType)) {
    throw new AppError('unsupported_media_type', 'content-type must be application/json');
  }
  try {
    return JSON.parse(raw);
  } catch {
    throw new AppError('bad_request', 'request body is not valid JSON');
  }
}

/**
 * A raw body as the inbox can keep it: PostgreSQL text cannot hold NUL, so a body with one (never a genuine
 * channel body: JSON and forms escape it) is kept with `\u0000` spelled out instead of failing the insert.
 */
export function storableBody(raw: string): string {
  return raw.includes('\u0000') ? raw.replaceAll('\u0000', '\\u0000') : raw;
}
