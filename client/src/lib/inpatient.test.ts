import { depositState, settlementLines, type InpatientDeposit, type InpatientSettlement } from './inpatient';

const settlement = (o: Partial<InpatientSettlement> = {}): InpatientSettlement => ({
  hisSettlementNo: 'S1',
  version: 1,
  status: 'SETTLED',
  totalCostFen: 150_000,
  depositsFen: 200_000,
  refundFen: 50_000,
  extraFen: 0,
  refunds: [{ hisRefundNo: 'S1/1', amountFen: 50_000, status: 'SUCCESS' }],
  extraBill: null,
  reversalReason: null,
  reversedAt: null,
  createdAt: '2026-11-23T00:00:00Z',
  ...o,
});

describe('inpatient view model', () => {
  it('deposits: paid, partly refunded, cancelled, paying, payable', () => {
    const d = (o: Partial<InpatientDeposit>): InpatientDeposit => ({
      id: 'dep_1',
      hisDepositNo: 'D1',
      billId: 'bill_1',
      amountFen: 100,
      status: 'UNPAID',
      paying: false,
      paidAt: null,
      refundedFen: 0,
      createdAt: '2026-11-23T00:00:00Z',
      ...o,
    });
    expect(depositState(d({}))).toEqual({ text: '待缴', payable: true });
    expect(depositState(d({ paying: true }))).toEqual({ text: '支付中', payable: false });
    expect(depositState(d({ status: 'PAID', refundedFen: 1 })).text).toBe('已缴（部分退回）');
    expect(depositState(d({ status: 'CANCELLED' })).text).toBe('已撤销');
  });

  it('a settlement with deposits above the cost: the cost, the deposits and the refund with its state', () => {
    const v = settlementLines(settlement());
    expect(v).toMatchObject({ title: '出院结算', state: '已结算', payBillId: undefined });
    expect(v.lines).toEqual([
      { key: 'cost', label: '住院总费用', fen: 150_000 },
      { key: 'deposits', label: '已缴押金', fen: 200_000 },
      { key: 'refund', label: '退还押金', fen: 50_000, note: '已退回' },
    ]);
    const mixed = settlementLines(
      settlement({
        refunds: [
          { hisRefundNo: 'S1/1', amountFen: 20_000, status: 'SUCCESS' },
          { hisRefundNo: 'S1/2', amountFen: 30_000, status: 'PROCESSING' },
        ],
      }),
    );
    expect(mixed.lines[2]!.note).toBe('退款中');
  });

  it('a rest to pay: a bill for the patient (补缴 offered) or debited through credit; a reversed one is not paid', () => {
    const unpaid = settlement({
      status: 'SETTLING',
      version: 2,
      depositsFen: 100_000,
      refundFen: 0,
      extraFen: 50_000,
      refunds: [],
      extraBill: { billId: 'bill_9', status: 'UNPAID', orderNo: null, channel: null },
    });
    expect(settlementLines(unpaid)).toMatchObject({
      title: '出院结算（第 2 版）',
      state: '结算中（待补缴）',
      payBillId: 'bill_9',
    });
    expect(settlementLines(unpaid).lines[2]).toEqual({
      key: 'extra',
      label: '需补缴',
      fen: 50_000,
      note: '待补缴',
    });
    const credit = settlementLines({
      ...unpaid,
      status: 'SETTLED',
      extraBill: { billId: 'bill_9', status: 'PAID', orderNo: 'O1', channel: 'credit' },
    });
    expect(credit.lines[2]!.note).toBe('已由信用就医扣款');
    expect(credit.payBillId).toBeUndefined();
    expect(settlementLines({ ...unpaid, status: 'REVERSED' })).toMatchObject({
      state: '已撤销',
      payBillId: undefined,
    });
  });
});
