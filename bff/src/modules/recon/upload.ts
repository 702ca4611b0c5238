import { and, eq } from 'drizzle-orm';
import { z } from 'zod';
import { MisposStatementSource } from '../../channels/mispos/adapter';
import type { FundFlowOutput, StatementOutput } from '../../channels/types';
import { merchantAccounts } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, notFound } from '../../lib/errors';
import { scopeHospital } from '../admin/queries';
import { audit, type Actor } from '../admin/service';
import { beijingDate, isBusinessDate } from './dates';
import {
  findMerchantAccount,
  MISPOS_CHANNEL,
  recordFundFlow,
  recordStatement,
  recordTerminalStatement,
  type StatementIntake,
  type StatementRecord,
} from './intake';
import { reconSettingsOf } from './settings';

/** Largest statement file an admin may upload (decoded); the JSON body carries it base64, a third larger. */
export const MAX_UPLOAD_FILE_BYTES = 40 * 1024 * 1024;
/** Body limit of `POST /admin/api/recon/statements/upload`. */
export const UPLOAD_BODY_LIMIT_BYTES = Math.ceil((MAX_UPLOAD_FILE_BYTES * 4) / 3) + 64 * 1024;

export const StatementUploadSchema = z
  .object({
    /** The merchant account the file is of (TRADE, FUNDFLOW) … */
    accountId: z.string().max(64).optional(),
    /** … or its channel (`mispos` for the acquirer's terminal statement), in the admin's hospital. */
    channel: z.enum(['wechatpay', 'alipay', 'bankpay', MISPOS_CHANNEL]).optional(),
    /** With `channel`, for an admin who may see every hospital. */
    hospitalId: z.string().max(64).optional(),
    billDate: z.string().refine(isBusinessDate, 'a date as YYYY-MM-DD'),
    /** TRADE (default; the channel's trade bill), FUNDFLOW (WeChat's fund-flow bill), TERMINAL (MISPOS). */
    billType: z.enum(['TRADE', 'FUNDFLOW', 'TERMINAL']).optional(),
    fileName: z.string().trim().min(1).max(200),
    /** The file exactly as the channel publishes it (WeChat CSV, Alipay zip, bank CSV, MISPOS text). */
    fileBase64: z
      .base64()
      .min(4)
      .max(Math.ceil((MAX_UPLOAD_FILE_BYTES * 4) / 3)),
    /** Replace a statement that is already IMPORTED (never done otherwise). */
    replace: z.boolean().optional(),
  })
  .strict()
  .refine((u) => Boolean(u.accountId) !== Boolean(u.channel), {
    message: 'give accountId or channel (one of them)',
    path: ['accountId'],
  });
export type StatementUpload = z.infer<typeof StatementUploadSchema>;

const rejected = (code: string | undefined, message: string | undefined) =>
  new AppError('statement_rejected', `${code ?? 'STATEMENT_FORMAT'}: ${message ?? 'the file was refused'}`);

/**
 * A statement file uploaded by an admin when the download failed (or the channel has no API): parsed by the
 * same parser, with the same checks, as the download (its own summary, this merchant), then checked to be
 * of the day named; a refused file changes nothing (`statement_rejected`, with the parser's reason). It
 * replaces a PENDING, FAILED or NO_TRADE statement, an IMPORTED one only with `replace: true`. Audited
 * (`recon.upload`). Run the day again afterwards to match it.
 */
export async function uploadStatement(deps: Deps, actor: Actor, input: StatementUpload) {
  const file = Buffer.from(input.fileBase64, 'base64');
  if (file.length === 0) throw new AppError('validation_failed', 'fileBase64: the file is empty');
  if (file.length > MAX_UPLOAD_FILE_BYTES)
    throw new AppError('payload_too_large', `the file is larger than ${MAX_UPLOAD_FILE_BYTES} bytes`);
  const importedBy = `admin:${actor.admin.id}`;
  const common = {
    billDate: input.billDate,
    source: 'UPLOAD' as const,
    importedBy,
    replace: input.replace ?? false,
  };
  /**
   * Checks the parser's output, records it through `record` (with the file's name and the audit row in the
   * statement's transaction) and answers what was stored.
   */
  const importParsed = async <T extends StatementOutput | FundFlowOutput>(
    parsed: T,
    target: { hospitalId: string; accountId: string; billType: string },
    record: (output: T, onStored: NonNullable<StatementIntake['onStored']>) => Promise<StatementRecord>,
  ) => {
    const output = checked(parsed, input.billDate);
    const lines = output.lines?.length ?? 0;
    const rec = await record({ ...output, fileName: input.fileName }, (tx, r) =>
      audit(tx, actor, {
        action: 'recon.upload',
        targetType: 'recon_statement',
        targetId: r.id,
        before: r.previousStatus ? { status: r.previousStatus } : null,
        after: {
          status: 'IMPORTED',
          hospitalId: target.hospitalId,
          accountId: target.accountId,
          billType: target.billType,
          billDate: input.billDate,
          fileName: input.fileName,
          fileBytes: file.length,
          lines,
          replace: input.replace ?? false,
        },
      }),
    );
    return view(rec, target.billType, output);
  };

  // MISPOS: the acquirer's terminal statement of the hospital's configured merchant number.
  if (input.channel === MISPOS_CHANNEL || input.billType === 'TERMINAL') {
    if (input.channel !== MISPOS_CHANNEL || (input.billType && input.billType !== 'TERMINAL'))
      throw new AppError('bad_request', 'a TERMINAL statement is uploaded with channel "mispos"');
    const hospitalId = scopeHospital(actor.admin, input.hospitalId);
    if (!hospitalId) throw new AppError('bad_request', 'hospitalId: which hospital the statement is of');
    const { mispos } = await reconSettingsOf(deps.db, hospitalId);
    if (!mispos)
      throw new AppError('bad_request', 'the hospital has no MISPOS acquirer configured (settings.mispos)');
    const source = new MisposStatementSource(mispos, {
      timeoutMs: deps.config.outboundTimeoutMs,
      production: false, // nothing is downloaded here
    });
    return importParsed(
      source.parseStatementFile(file, input.billDate),
      { hospitalId, accountId: `${MISPOS_CHANNEL}:${mispos.merchantNo}`, billType: 'TERMINAL' },
      (output, onStored) =>
        recordTerminalStatement(deps, {
          ...common,
          hospitalId,
          merchantNo: mispos.merchantNo,
          output,
          onStored,
        }),
    );
  }

  const account = await accountFor(deps, actor, input);
  const { adapter } = await deps.channels.get(account.id);
  const billType = input.billType ?? 'TRADE';
  const target = { hospitalId: account.hospitalId, accountId: account.id, billType };
  if (billType === 'FUNDFLOW') {
    if (!adapter.capabilities.fundFlow || !adapter.parseFundFlowFile)
      throw new AppError('bad_request', `${account.channel} (this account) has no fund-flow bill`);
    return importParsed(adapter.parseFundFlowFile(file, input.billDate), target, (output, onStored) =>
      recordFundFlow(deps, { ...common, accountId: account.id, output, onStored }),
    );
  }
  return importParsed(adapter.parseStatementFile(file, input.billDate), target, (output, onStored) =>
    recordStatement(deps, { ...common, accountId: account.id, output, onStored }),
  );
}

/** The account named, or the hospital's enabled account of the channel; within the admin's hospital. */
async function accountFor(deps: Deps, actor: Actor, input: StatementUpload) {
  const where = input.accountId
    ? eq(merchantAccounts.id, input.accountId)
    : and(
        eq(merchantAccounts.channel, input.channel!),
        eq(merchantAccounts.enabled, true),
        eq(
          merchantAccounts.hospitalId,
          scopeHospital(actor.admin, input.hospitalId) ??
            (() => {
              throw new AppError('bad_request', 'hospitalId: which hospital the statement is of');
            })(),
        ),
      );
  const account = await findMerchantAccount(deps.db, where);
  if (!account || (actor.admin.hospitalId && account.hospitalId !== actor.admin.hospitalId))
    throw notFound('merchant account');
  return account;
}

/**
 * A parse result that must be a success whose lines all fall on the day named (a statement of another day
 * is refused even if it adds up).
 */
function checked<T extends StatementOutput | FundFlowOutput>(output: T, billDate: string): T {
  if (output.result !== 'SUCCESS') throw rejected(output.errorCode, output.errorMessage);
  const other = (output.lines ?? []).find((l) => beijingDate(l.occurredAt) !== billDate);
  if (other)
    throw rejected(
      'STATEMENT_WRONG_DATE',
      `the file has a line of ${beijingDate(other.occurredAt)}: it is not the statement of ${billDate}`,
    );
  return output;
}

function view(
  rec: { id: string; status: string; lineCount: number; previousStatus?: string },
  billType: string,
  output: StatementOutput | FundFlowOutput,
) {
  return {
    statementId: rec.id,
    billType,
    status: rec.status,
    previousStatus: rec.previousStatus ?? null,
    lineCount: rec.lineCount,
    totals: output.totals ?? null,
  };
}
