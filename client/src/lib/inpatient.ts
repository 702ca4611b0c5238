/** `GET /api/inpatient/admissions` (bff/src/modules/inpatient/schema.ts), reduced to what the page reads. */
export interface InpatientDeposit {
  id: string;
  hisDepositNo: string;
  billId: string;
  amountFen: number;
  status: 'UNPAID' | 'PAID' | 'CANCELLED';
  paying: boolean;
  paidAt: string | null;
  refundedFen: number;
  createdAt: string;
}

/** A discharge settlement (出院结算) of the stay, as `SettlementViewSchema` has it. */
export interface InpatientSettlement {
  hisSettlementNo: string;
  version: number;
  status: 'SETTLING' | 'SETTLED' | 'REVERSED';
  /** Fen. */
  totalCostFen: number;
  /** What the platform held when it was made, fen. */
  depositsFen: number;
  /** Deposits above the cost, refunded, fen. */
  refundFen: number;
  /** Cost above the deposits, collected, fen. */
  extraFen: number;
  refunds: { hisRefundNo: string; amountFen: number; status: string }[];
  extraBill: {
    billId: string;
    status: 'UNPAID' | 'PAID' | 'CANCELLED';
    orderNo: string | null;
    channel: string | null;
  } | null;
  reversalReason: string | null;
  reversedAt: string | null;
  createdAt: string;
}

export interface InpatientAdmission {
  admissionNo: string;
  department: string | null;
  ward: string | null;
  status: 'ADMITTED' | 'SETTLED';
  admittedAt: string;
  /** Held for the stay: paid deposits and extras less refunds, fen. */
  balanceFen: number;
  deposits: InpatientDeposit[];
  /** Newest version first; absent from a bff that does not list them. */
  settlements?: InpatientSettlement[];
}

/** A deposit's state as the patient reads it, and whether it can be paid now. */
export function depositState(d: InpatientDeposit): { text: string; payable: boolean } {
  if (d.status === 'PAID') return { text: d.refundedFen > 0 ? '已缴（部分退回）' : '已缴', payable: false };
  if (d.status === 'CANCELLED') return { text: '已撤销', payable: false };
  return d.paying ? { text: '支付中', payable: false } : { text: '待缴', payable: true };
}

/** A settlement as the patient reads it: its state, and the lines to show (label, fen). */
export interface SettlementLines {
  title: string;
  state: string;
  lines: { key: string; label: string; fen: number; note?: string }[];
  /** The rest to pay when the HIS sent it as a bill the patient pays (not debited, not yet paid). */
  payBillId?: string;
}

const REFUND_TEXT: Record<string, string> = {
  NOT_STARTED: '待退款',
  PENDING: '退款中',
  PROCESSING: '退款中',
  SUCCESS: '已退回',
  FAILED: '退款失败（医院处理中）',
  ABNORMAL: '退款异常（医院处理中）',
};

/** The refunds of a settlement as one note: `已退回` when all went through, else the worst state. */
function refundsNote(refunds: InpatientSettlement['refunds']): string | undefined {
  if (refunds.length === 0) return undefined;
  const states = [...new Set(refunds.map((r) => REFUND_TEXT[r.status] ?? r.status))];
  return states.length === 1 ? states[0] : states.filter((t) => t !== '已退回').join('、');
}

export function settlementLines(s: InpatientSettlement): SettlementLines {
  const state = s.status === 'REVERSED' ? '已撤销' : s.status === 'SETTLING' ? '结算中（待补缴）' : '已结算';
  const lines: SettlementLines['lines'] = [
    { key: 'cost', label: '住院总费用', fen: s.totalCostFen },
    { key: 'deposits', label: '已缴押金', fen: s.depositsFen },
  ];
  if (s.refundFen > 0)
    lines.push({ key: 'refund', label: '退还押金', fen: s.refundFen, note: refundsNote(s.refunds) });
  if (s.extraFen > 0) {
    const b = s.extraBill;
    const note = !b
      ? undefined
      : b.status === 'PAID'
        ? b.channel === 'credit'
          ? '已由信用就医扣款'
          : '已补缴'
        : b.status === 'CANCELLED'
          ? '已撤销'
          : '待补缴';
    lines.push({ key: 'extra', label: '需补缴', fen: s.extraFen, note });
  }
  return {
    title: s.version > 1 ? `出院结算（第 ${s.version} 版）` : '出院结算',
    state,
    lines,
    payBillId: s.status !== 'REVERSED' && s.extraBill?.status === 'UNPAID' ? s.extraBill.billId : undefined,
  };
}
