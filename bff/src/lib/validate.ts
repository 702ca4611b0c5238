import type { Context, Next } from 'koa';
import type { z } from 'zod';
import { readRawBody, parseJson } from './body';
import { AppError } from './errors';

declare module 'koa' {
  interface DefaultContext {
    /** The validated input of the route (body, or query for GET). */
    input: unknown;
    /** The raw body text, when the route read it. */
    rawBody?: string;
  }
}

/** Formats the first zod issue as `path: message`. */
export function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid input';
  const at = issue.path.length ? issue.path.join('.') : 'body';
  return `${at}: ${issue.message}`;
}

/**
 * Validates the request with a zod schema and puts the result in `ctx.input`: the JSON body for
 * POST/PUT/PATCH (read raw into `ctx.rawBody` first), the query string otherwise.
 */
export function validate<S extends z.ZodType>(schema: S, opts: { limit?: number } = {}) {
  return async (ctx: Context, next: Next) => {
    let value: unknown;
    if (['POST', 'PUT', 'PATCH'].includes(ctx.method)) {
      if (ctx.rawBody === undefined)
        ctx.rawBody = await readRawBody(ctx, opts.limit ?? ctx.state.bodyLimit ?? 1024 * 1024);
      value = parseJson(ctx.rawBody, ctx.get('content-type') || undefined);
    } else {
      value = { ...ctx.query };
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new AppError('validation_failed', firstIssue(parsed.error));
    ctx.input = parsed.data;
    await next();
  };
}
