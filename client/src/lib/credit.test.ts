import type { PatientCard } from '@hp/shared';
import { creditView, familyCandidates, signReturnNote, type CreditStatus } from './credit';

const status = (o: Partial<CreditStatus> = {}): CreditStatus => ({
  status: 'NOT_SIGNED',
  agreementNo: null,
  limitFen: 0,
  availableFen: 0,
  autoPay: true,
  signedAt: null,
  family: [],
  ...o,
});
const card = (o: Partial<PatientCard>): PatientCard => ({
  id: 'card_1',
  hospitalId: 'hos_1',
  patientId: 'pat_1',
  patientName: '张三',
  cardType: 'HOSPITAL_CARD',
  cardNoMasked: '2026****01',
  current: false,
  createdAt: '2026-11-23T00:00:00Z',
  ...o,
});

describe('credit view model', () => {
  it('signed: limit and available from fen by string arithmetic, unsign offered, sign not', () => {
    const v = creditView(
      status({ status: 'SIGNED', agreementNo: 'AG1', limitFen: 300_000, availableFen: 295_001 }),
    );
    expect(v).toMatchObject({
      signed: true,
      label: '已签约',
      limit: '¥3,000.00',
      available: '¥2,950.01',
      canSign: false,
      canUnsign: true,
    });
    expect(v.note).toContain('自动缴费');
    expect(creditView(status({ status: 'SIGNED', autoPay: false })).note).toBe('未开通自动缴费');
  });

  it('not signed, unsigned, failed and signing: 开通 offered, no amounts', () => {
    for (const s of ['NOT_SIGNED', 'UNSIGNED', 'FAILED'] as const) {
      const v = creditView(status({ status: s, limitFen: 100 }));
      expect(v).toMatchObject({ signed: false, label: '未签约', canSign: true, canUnsign: false });
      expect(v.limit).toBeUndefined();
    }
    expect(creditView(status({ status: 'SIGNING' }))).toMatchObject({ label: '签约中', canSign: true });
  });

  it('the bank’s return is read from ?result=', () => {
    expect(signReturnNote('SUCCESS')).toContain('确认');
    expect(signReturnNote('CANCELLED')).toBe('签约已取消');
    expect(signReturnNote(undefined)).toBeUndefined();
    expect(signReturnNote('x')).toBeUndefined();
  });

  it('family candidates: bound cards other than the signer’s, not already added', () => {
    const cards = [
      card({ id: 'c1', patientId: 'p1', current: true }),
      card({ id: 'c2', patientId: 'p2' }),
      card({ id: 'c3', patientId: 'p3' }),
    ];
    const s = status({
      status: 'SIGNED',
      family: [{ id: 'cfm_1', patientId: 'p2', name: '张*', relation: '子女' }],
    });
    expect(familyCandidates(cards, s).map((c) => c.id)).toEqual(['c3']);
  });
});
