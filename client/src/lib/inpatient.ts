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

export interface InpatientAdmission {
  admissionNo: string;
  department: string | null;
  ward: string | null;
  status: 'ADMITTED' | 'SETTLED';
  admittedAt: string;
  /** Held for the stay: paid deposits and extras less refunds, fen. */
  balanceFen: number;
  deposits: InpatientDeposit[];
}

/** A deposit's state as the patient reads it, and whether it can be paid now. */
export function depositState(d: InpatientDeposit): { text: string; payable: boolean } {
  if (d.status === 'PAID') return { text: d.refundedFen > 0 ? '已缴（部分退回）' : '已缴', payable: false };
  if (d.status === 'CANCELLED') return { text: '已撤销', payable: false };
  return d.paying ? { text: '支付中', payable: false } : { text: '待缴', payable: true };
}
