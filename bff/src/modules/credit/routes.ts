import type Router from '@koa/router';
import type { Middleware } from 'koa';
import { z } from 'zod';
import type { Deps } from '../../deps';
import { validate } from '../../lib/validate';
import { listMessages, markMessageRead } from '../messages/service';
import {
  addFamilyMember,
  creditStatus,
  listDebits,
  removeFamilyMember,
  startSigning,
  unsign,
} from './service';

/** `POST /api/credit/sign`: where the bank's signing page sends the patient back (the H5 page). */
export const CreditSignRequestSchema = z
  .object({
    returnUrl: z.url().max(500).describe('the H5 page the bank returns to, with ?signRequestNo=…&result=…'),
    autoPay: z.boolean().optional().describe('debit bills without asking (default true)'),
  })
  .strict();

export const CreditSignStartSchema = z.object({
  signRequestNo: z.string(),
  pageUrl: z.string().describe('the bank’s signing page: open it in the H5'),
});

export const CreditFamilyRequestSchema = z
  .object({
    patientId: z.string().min(1).max(64).describe('the relative’s patient id, a card bound to this account'),
    relation: z.string().min(1).max(20).describe('e.g. 子女, 配偶, 父母'),
  })
  .strict();

export const CreditFamilyMemberSchema = z.object({
  id: z.string(),
  patientId: z.string(),
  name: z.string().describe('masked'),
  relation: z.string(),
});

export const CreditStatusSchema = z.object({
  status: z.enum(['SIGNED', 'SIGNING', 'UNSIGNED', 'NOT_SIGNED', 'FAILED']),
  agreementNo: z.string().nullable(),
  limitFen: z.number().int().describe('the credit limit, fen'),
  availableFen: z.number().int().describe('what is left of it now, fen'),
  autoPay: z.boolean(),
  signedAt: z.string().nullable(),
  family: z.array(CreditFamilyMemberSchema),
});

export const CreditDebitListSchema = z.object({
  debits: z.array(
    z.object({
      id: z.string(),
      billId: z.string(),
      orderId: z.string().nullable(),
      amountFen: z.number().int(),
      status: z.enum(['PENDING', 'DEBITING', 'SUCCESS', 'OVER_LIMIT', 'NOT_SIGNED', 'DECLINED', 'FAILED']),
      createdAt: z.string(),
    }),
  ),
});

export const PatientMessageSchema = z.object({
  id: z.string(),
  kind: z.string().describe('payment_succeeded, refund_done, credit_debit_failed, bill_waiting'),
  title: z.string(),
  body: z.string(),
  refs: z.record(z.string(), z.string()).describe('billId, orderId, refundId, debitId'),
  readAt: z.string().nullable(),
  createdAt: z.string(),
});

export const PatientMessageListSchema = z.object({
  messages: z.array(PatientMessageSchema),
  unread: z.number().int(),
});

/** The patient API of credit pay and messages, mounted on the patient router (`/api`). */
export function creditPatientRoutes(r: Router, deps: Deps, auth: Middleware): void {
  r.post('/credit/sign', auth, validate(CreditSignRequestSchema), async (ctx) => {
    ctx.status = 201;
    ctx.body = await startSigning(
      deps,
      ctx.state.patient!,
      ctx.input as z.infer<typeof CreditSignRequestSchema>,
    );
  });
  r.get('/credit/status', auth, async (ctx) => {
    ctx.body = await creditStatus(deps, ctx.state.patient!);
  });
  r.post('/credit/unsign', auth, async (ctx) => {
    ctx.body = await unsign(deps, ctx.state.patient!);
  });
  r.post('/credit/family', auth, validate(CreditFamilyRequestSchema), async (ctx) => {
    ctx.status = 201;
    ctx.body = await addFamilyMember(
      deps,
      ctx.state.patient!,
      ctx.input as z.infer<typeof CreditFamilyRequestSchema>,
    );
  });
  r.delete('/credit/family/:id', auth, async (ctx) => {
    await removeFamilyMember(deps, ctx.state.patient!, ctx.params.id!);
    ctx.status = 204;
  });
  r.get('/credit/debits', auth, async (ctx) => {
    ctx.body = await listDebits(deps, ctx.state.patient!);
  });
  r.get('/patient/messages', auth, async (ctx) => {
    ctx.body = await listMessages(deps.db, ctx.state.patient!.patientId);
  });
  r.post('/patient/messages/:id/read', auth, async (ctx) => {
    ctx.body = await markMessageRead(deps.db, ctx.state.patient!.patientId, ctx.params.id!);
  });
}
