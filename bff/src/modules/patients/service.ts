import type { BindCardRequest, CardType, PatientCard } from '@hp/shared';
import { and, asc, eq } from 'drizzle-orm';
import type { Db } from '../../db/client';
import { patientAccounts, patientCards, patients } from '../../db/schema';
import type { Deps } from '../../deps';
import { AppError, notFound, unauthorized } from '../../lib/errors';
import { newId } from '../../lib/ids';
import { maskCardNo, maskIdNo, maskName } from '../../lib/mask';
import { reserveCardBindAttempt } from '../../lib/rate-limits';
import type { PatientLookup } from '../his/client';
import { requireHisEndpoint } from '../his/endpoint';
import type { SessionPrincipal } from '../orders/service';

/** Who can hold a patient session: the sandbox login today, WeChat (openid) next. */
export type AccountProvider = 'sandbox' | 'wechat';

/**
 * The account of a login, created on first use. `subject` is what the provider identifies the person by:
 * sandbox `<hospitalId>:<hisPatientId>`, WeChat `<appId>:<openid>`.
 */
export async function ensureAccount(db: Db, provider: AccountProvider, subject: string): Promise<string> {
  await db
    .insert(patientAccounts)
    .values({ id: newId('acct'), provider, subject })
    .onConflictDoNothing({ target: [patientAccounts.provider, patientAccounts.subject] });
  const [row] = await db
    .select({ id: patientAccounts.id })
    .from(patientAccounts)
    .where(and(eq(patientAccounts.provider, provider), eq(patientAccounts.subject, subject)));
  return row!.id;
}

function accountOf(who: SessionPrincipal): string {
  if (!who.accountId) throw unauthorized('this session has no account; please log in again');
  return who.accountId;
}

type CardRow = typeof patientCards.$inferSelect & { patientName: string };

function toCardView(row: CardRow, who: SessionPrincipal): PatientCard {
  return {
    id: row.id,
    hospitalId: row.hospitalId,
    patientId: row.patientId,
    patientName: maskName(row.patientName),
    cardType: row.cardType as CardType,
    cardNoMasked: row.cardNoMasked,
    current: row.patientId === who.patientId,
    createdAt: row.createdAt.toISOString(),
  };
}

/** Failed card bindings an account may make in {@link BIND_FAILURE_WINDOW_MS} before it must wait. */
export const BIND_FAILURE_LIMIT = 5;
const BIND_FAILURE_WINDOW_MS = 60 * 60_000;

/**
 * Binds a patient of the session's hospital to the session's account. The HIS looks the card (or ID number)
 * up and checks the name first; any refusal (`not_found`, `name_mismatch`, `his_unavailable`) writes
 * nothing. The same patient may be bound to other accounts (family), but only once to this one
 * (`card_already_bound`). Only the masked number is stored.
 *
 * Binding a card asks the HIS whether a name goes with a card or ID number, so without a limit it could be
 * used to guess who is a patient here. Each account may fail {@link BIND_FAILURE_LIMIT} times an hour
 * (a sliding window kept in PostgreSQL, so it holds across every bff process: lib/rate-limits.ts).
 */
export async function bindCard(
  deps: Deps,
  who: SessionPrincipal,
  input: BindCardRequest,
): Promise<PatientCard> {
  const accountId = accountOf(who);
  const endpoint = await requireHisEndpoint(deps, who.hospitalId);
  // The attempt takes a slot first (every process sees it), and gives it back unless it fails in a way that counts.
  const slot = await reserveCardBindAttempt(deps.db, accountId, BIND_FAILURE_LIMIT, BIND_FAILURE_WINDOW_MS);
  if ('retryAfterSeconds' in slot)
    throw new AppError(
      'rate_limited',
      `too many failed card bindings; try again in ${Math.ceil(slot.retryAfterSeconds / 60)} minutes or ask at the hospital's desk`,
    );
  const by: PatientLookup =
    input.cardNo !== undefined ? { cardNo: input.cardNo } : { idNo: input.idNo ?? '' };
  let match;
  try {
    match = await deps.his.lookupPatient(endpoint, by, input.name);
  } catch (e) {
    // A wrong name or an unknown number counts; the HIS being down does not.
    const code = (e as AppError).code;
    if (code !== 'name_mismatch' && code !== 'not_found') await slot.release();
    throw e;
  }
  await slot.release();
  const cardNoMasked = 'cardNo' in by ? maskCardNo(by.cardNo) : maskIdNo(by.idNo);
  try {
    return await deps.db.transaction(async (tx) => {
      // The HIS matched the name given, so it is the patient's name as the HIS knows it.
      await tx
        .insert(patients)
        .values({
          id: newId('pat'),
          hospitalId: who.hospitalId,
          hisPatientId: match.hisPatientId,
          name: input.name,
        })
        .onConflictDoNothing({ target: [patients.hospitalId, patients.hisPatientId] });
      const [patient] = await tx
        .select({ id: patients.id, name: patients.name })
        .from(patients)
        .where(and(eq(patients.hospitalId, who.hospitalId), eq(patients.hisPatientId, match.hisPatientId)));
      const [existing] = await tx
        .select({ id: patientCards.id })
        .from(patientCards)
        .where(and(eq(patientCards.accountId, accountId), eq(patientCards.patientId, patient!.id)));
      if (existing) throw cardAlreadyBound();
      const [row] = await tx
        .insert(patientCards)
        .values({
          id: newId('card'),
          accountId,
          hospitalId: who.hospitalId,
          patientId: patient!.id,
          cardType: match.cardType,
          cardNoMasked,
        })
        .returning();
      return toCardView({ ...row!, patientName: patient!.name }, who);
    });
  } catch (e) {
    // Two binds of the same card at once: the unique key stops the second.
    if (isUniqueViolation(e)) throw cardAlreadyBound();
    throw e;
  }
}

function isUniqueViolation(e: unknown): boolean {
  const code = (x: unknown) => (x && typeof x === 'object' ? (x as { code?: unknown }).code : undefined);
  return code(e) === '23505' || code((e as { cause?: unknown } | undefined)?.cause) === '23505';
}

const cardAlreadyBound = () =>
  new AppError('card_already_bound', 'this card is already bound to your account');

/** The cards bound to the session's account, oldest first. */
export async function listCards(deps: Pick<Deps, 'db'>, who: SessionPrincipal): Promise<PatientCard[]> {
  const accountId = accountOf(who);
  const rows = await deps.db
    .select({ card: patientCards, patientName: patients.name })
    .from(patientCards)
    .innerJoin(patients, eq(patients.id, patientCards.patientId))
    .where(eq(patientCards.accountId, accountId))
    .orderBy(asc(patientCards.createdAt), asc(patientCards.id));
  return rows.map((r) => toCardView({ ...r.card, patientName: r.patientName }, who));
}

/** Unbinds one of the account's cards; another account's card is not found. */
export async function unbindCard(
  deps: Pick<Deps, 'db'>,
  who: SessionPrincipal,
  cardId: string,
): Promise<void> {
  const accountId = accountOf(who);
  const gone = await deps.db
    .delete(patientCards)
    .where(and(eq(patientCards.id, cardId), eq(patientCards.accountId, accountId)))
    .returning({ id: patientCards.id });
  if (!gone.length) throw notFound('card');
}
