import { and, eq, lt, ne, sql } from 'drizzle-orm';
import type { InsuranceSplit, InsuredPerson } from '../../channels/insurance-types';
import type { Tx } from '../../db/client';
import { insuranceAuthorizations, insuranceSettlements } from '../../db/schema';
import type { Deps } from '../../deps';

export type SettlementRow = typeof insuranceSettlements.$inferSelect;

/**
 * Settlement states (see the table's comment). A settlement "holds money" from SETTLED until it is REVERSED
 * or REFUNDED; FAILED and REVOKED never took any.
 */
export type SettlementStatus =
  | 'QUOTING'
  | 'QUOTED'
  | 'SETTLING'
  | 'SETTLED'
  | 'FAILED'
  | 'REVOKED'
  | 'CLOSING'
  | 'REVERSING'
  | 'REVERSED'
  | 'PARTIALLY_REFUNDED'
  | 'REFUNDED';

export async function findSettlement(tx: Tx, orderId: string): Promise<SettlementRow | undefined> {
  const [row] = await tx.select().from(insuranceSettlements).where(eq(insuranceSettlements.orderId, orderId));
  return row;
}

export async function lockSettlement(tx: Tx, orderId: string): Promise<SettlementRow | undefined> {
  const [row] = await tx
    .select()
    .from(insuranceSettlements)
    .where(eq(insuranceSettlements.orderId, orderId))
    .for('update');
  return row;
}

/** Moves a settlement from one of `from` to `to` (conditional update); false when someone moved it first. */
export async function moveSettlement(
  tx: Tx,
  row: SettlementRow,
  from: SettlementStatus[],
  to: SettlementStatus,
  patch: Partial<typeof insuranceSettlements.$inferInsert> = {},
): Promise<boolean> {
  if (!from.includes(row.status as SettlementStatus)) return false;
  const done = await tx
    .update(insuranceSettlements)
    .set({ ...patch, status: to, updatedAt: sql`now()` })
    .where(sql`${insuranceSettlements.id} = ${row.id} AND ${insuranceSettlements.status} = ${row.status}`)
    .returning({ id: insuranceSettlements.id });
  return done.length === 1;
}

export function splitOf(row: SettlementRow): InsuranceSplit {
  return {
    totalFen: row.totalFen,
    fundFen: row.fundFen,
    psnAcctFen: row.psnAcctFen,
    otherFen: row.otherFen,
    cashFen: row.cashFen,
  };
}

/** The insurance part (fund + account + other) of a settlement, and what of it is still not refunded. */
export function insuranceFen(row: SettlementRow): { paid: number; left: number } {
  const paid = row.fundFen + row.psnAcctFen + row.otherFen;
  const back = row.refundedFundFen + row.refundedPsnAcctFen + row.refundedOtherFen;
  return { paid, left: paid - back };
}

/** The patient's authorisation secrets, sealed under the secrets key. */
export interface AuthSecrets {
  payAuthNo: string;
  person: InsuredPerson;
}

/** What an authorisation's secrets become a day after it expired (see {@link purgeExpiredAuthorizations}). */
export const PURGED = 'purged';

export function openAuth(deps: Pick<Deps, 'secrets'>, sealed: string): AuthSecrets {
  if (sealed === PURGED)
    return { payAuthNo: '', person: { psnNo: '', name: '', idNo: '', idType: '01', insutype: '' } };
  return JSON.parse(deps.secrets.open(sealed)) as AuthSecrets;
}

/**
 * The payAuthNo and the full ID number are kept only while they are of use: a day after an authorisation
 * expired (its orders settled, revoked or reversed by then) its sealed secrets are dropped. Run by the sweep.
 */
export async function purgeExpiredAuthorizations(deps: Pick<Deps, 'db'>): Promise<number> {
  const done = await deps.db
    .update(insuranceAuthorizations)
    .set({ secretEnc: PURGED })
    .where(
      and(
        lt(insuranceAuthorizations.expiresAt, sql`now() - interval '1 day'`),
        ne(insuranceAuthorizations.secretEnc, PURGED),
      ),
    )
    .returning({ id: insuranceAuthorizations.id });
  return done.length;
}
