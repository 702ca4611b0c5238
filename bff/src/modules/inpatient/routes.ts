import type Router from '@koa/router';
import type { Middleware } from 'koa';
import type { z } from 'zod';
import type { Deps } from '../../deps';
import { validate } from '../../lib/validate';
import { createOrder } from '../orders/service';
import {
  AdmissionRequestSchema,
  DepositRequestSchema,
  PayDepositRequestSchema,
  SettlementRequestSchema,
  SettlementReversalRequestSchema,
  type AdmissionInput,
  type DepositInput,
  type SettlementInput,
} from './schema';
import {
  admissionForHis,
  admit,
  depositBillForPatient,
  listAdmissionsForPatient,
  requestDeposit,
  reverseSettlement,
  settle,
  settlementForHis,
} from './service';

/** The HIS's inpatient routes, mounted on the signed open-API router (`/open/v1`). */
export function inpatientOpenRoutes(r: Router, deps: Deps): void {
  const hospital = (ctx: { state: { hisApp?: { hospitalId: string } } }) => ctx.state.hisApp!.hospitalId;
  r.post('/admissions', validate(AdmissionRequestSchema), async (ctx) => {
    ctx.body = await admit(deps, hospital(ctx), ctx.input as AdmissionInput);
  });
  r.get('/admissions/:admissionNo', async (ctx) => {
    ctx.body = await admissionForHis(deps, hospital(ctx), ctx.params.admissionNo!);
  });
  r.post('/admissions/:admissionNo/deposits', validate(DepositRequestSchema), async (ctx) => {
    ctx.body = await requestDeposit(deps, hospital(ctx), ctx.params.admissionNo!, ctx.input as DepositInput);
  });
  r.post('/admissions/:admissionNo/settlements', validate(SettlementRequestSchema), async (ctx) => {
    ctx.body = await settle(deps, hospital(ctx), ctx.params.admissionNo!, ctx.input as SettlementInput);
  });
  r.get('/settlements/:hisSettlementNo', async (ctx) => {
    ctx.body = await settlementForHis(deps, hospital(ctx), ctx.params.hisSettlementNo!);
  });
  r.post('/settlements/:hisSettlementNo/reversal', validate(SettlementReversalRequestSchema), async (ctx) => {
    const input = ctx.input as z.infer<typeof SettlementReversalRequestSchema>;
    ctx.body = await reverseSettlement(deps, hospital(ctx), ctx.params.hisSettlementNo!, input.reason);
  });
}

/** The patient's inpatient routes, mounted on the patient router (`/api`). */
export function inpatientPatientRoutes(r: Router, deps: Deps, auth: Middleware): void {
  r.get('/inpatient/admissions', auth, async (ctx) => {
    ctx.body = await listAdmissionsForPatient(deps, ctx.state.patient!);
  });
  // Paying a deposit is an ordinary order for its bill: every channel, notification and HIS push applies.
  r.post('/inpatient/deposits/:id/orders', auth, validate(PayDepositRequestSchema), async (ctx) => {
    const who = ctx.state.patient!;
    const billId = await depositBillForPatient(deps, who, ctx.params.id!);
    ctx.status = 201;
    ctx.body = await createOrder(deps, who, {
      ...(ctx.input as z.infer<typeof PayDepositRequestSchema>),
      billIds: [billId],
    });
  });
}
