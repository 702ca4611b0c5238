import { depositState, type InpatientDeposit } from './inpatient';
import { kindIcon, messageTarget, unreadBadge, type PatientMessage } from './messages';
import { PAGES } from './nav';

const msg = (o: Partial<PatientMessage>): PatientMessage => ({
  id: 'msg_1',
  kind: 'payment_succeeded',
  title: '缴费成功',
  body: '',
  refs: {},
  readAt: null,
  createdAt: '2026-11-23T00:00:00Z',
  ...o,
});

describe('messages', () => {
  it('a message opens the order it names, else the bills or the stay, else nothing', () => {
    expect(messageTarget(msg({ refs: { orderId: 'ord_1', billId: 'bill_1' } }))).toEqual({
      page: PAGES.order,
      query: { id: 'ord_1' },
    });
    expect(messageTarget(msg({ kind: 'bill_waiting', refs: { billId: 'bill_1' } }))).toEqual({
      page: PAGES.bills,
    });
    expect(messageTarget(msg({ kind: 'settlement_refunded', refs: {} }))).toEqual({ page: PAGES.inpatient });
    expect(messageTarget(msg({ kind: 'credit_signed', refs: {} }))).toBeUndefined();
  });

  it('icons per kind, a neutral one for a kind this build does not know; the unread badge', () => {
    expect(kindIcon('payment_succeeded')).toEqual({ icon: '付', tone: 'ok' });
    expect(kindIcon('credit_debit_failed').tone).toBe('warn');
    expect(kindIcon('something_new')).toEqual({ icon: '信', tone: 'info' });
    expect(unreadBadge(0)).toBeUndefined();
    expect(unreadBadge(3)).toBe('3');
    expect(unreadBadge(120)).toBe('99+');
  });

  it('a deposit: payable only when unpaid and not held by a paying order', () => {
    const d = (o: Partial<InpatientDeposit>): InpatientDeposit => ({
      id: 'dep_1',
      hisDepositNo: 'YJ1',
      billId: 'bill_1',
      amountFen: 100_000,
      status: 'UNPAID',
      paying: false,
      paidAt: null,
      refundedFen: 0,
      createdAt: '2026-11-23T00:00:00Z',
      ...o,
    });
    expect(depositState(d({}))).toEqual({ text: '待缴', payable: true });
    expect(depositState(d({ paying: true }))).toEqual({ text: '支付中', payable: false });
    expect(depositState(d({ status: 'PAID' }))).toEqual({ text: '已缴', payable: false });
    expect(depositState(d({ status: 'PAID', refundedFen: 5 })).text).toBe('已缴（部分退回）');
    expect(depositState(d({ status: 'CANCELLED' })).payable).toBe(false);
  });
});
