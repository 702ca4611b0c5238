import type { PatientCard } from '@hp/shared';
import { yuanLabel } from './money';

/** `GET /api/credit/status` (bff/src/modules/credit/routes.ts `CreditStatusSchema`). */
export interface CreditStatus {
  status: 'SIGNED' | 'SIGNING' | 'UNSIGNED' | 'NOT_SIGNED' | 'FAILED';
  agreementNo: string | null;
  /** Fen. */
  limitFen: number;
  /** Fen. */
  availableFen: number;
  autoPay: boolean;
  signedAt: string | null;
  family: CreditFamilyMember[];
}

/** A relative whose bills are debited on the signer's agreement. */
export interface CreditFamilyMember {
  id: string;
  patientId: string;
  /** Masked by the bff. */
  name: string;
  relation: string;
}

/** `GET /api/credit/debits`: one password-free debit attempt of a bill. */
export interface CreditDebit {
  id: string;
  billId: string;
  orderId: string | null;
  amountFen: number;
  status: 'PENDING' | 'DEBITING' | 'SUCCESS' | 'OVER_LIMIT' | 'NOT_SIGNED' | 'DECLINED' | 'FAILED';
  createdAt: string;
}

/** What the 信用就医 page shows for a status. */
export interface CreditView {
  signed: boolean;
  /** 已签约 / 未签约 / 签约中. */
  label: string;
  /** The limit and what is left of it, as yuan labels; only when signed. */
  limit?: string;
  available?: string;
  /** The patient may start a signing (not while one is open at the bank). */
  canSign: boolean;
  canUnsign: boolean;
  /** A line under the status, when there is something to say. */
  note?: string;
}

/** The status as the page shows it; amounts from fen by string arithmetic. */
export function creditView(s: CreditStatus): CreditView {
  switch (s.status) {
    case 'SIGNED':
      return {
        signed: true,
        label: '已签约',
        limit: yuanLabel(s.limitFen),
        available: yuanLabel(s.availableFen),
        canSign: false,
        canUnsign: true,
        note: s.autoPay ? '已开通自动缴费：新账单在可用额度内自动扣款' : '未开通自动缴费',
      };
    case 'SIGNING':
      return {
        signed: false,
        label: '签约中',
        canSign: true,
        canUnsign: false,
        note: '银行尚未确认签约；若已在银行页面同意，请稍后刷新',
      };
    case 'FAILED':
      return { signed: false, label: '未签约', canSign: true, canUnsign: false, note: '上次签约未完成' };
    case 'UNSIGNED':
      return { signed: false, label: '未签约', canSign: true, canUnsign: false, note: '已解约' };
    case 'NOT_SIGNED':
      return { signed: false, label: '未签约', canSign: true, canUnsign: false };
  }
}

/** What the bank's signing page said on return (`?result=`), as a banner; nothing when not a return. */
export function signReturnNote(result: string | undefined): string | undefined {
  if (result === 'SUCCESS') return '银行已受理签约，正在确认状态';
  if (result === 'CANCELLED') return '签约已取消';
  return undefined;
}

/** Relations the bff accepts (any text ≤ 20 characters); these are the ones offered. */
export const RELATIONS = ['配偶', '子女', '父母', '其他亲属'] as const;

/** Cards bound to the account that can still be added as family: not the signer, not already added. */
export function familyCandidates(cards: readonly PatientCard[], s: CreditStatus): PatientCard[] {
  const added = new Set(s.family.map((f) => f.patientId));
  return cards.filter((c) => !c.current && !added.has(c.patientId));
}

export const DEBIT_STATUS_TEXT: Record<CreditDebit['status'], string> = {
  PENDING: '扣款中',
  DEBITING: '扣款中',
  SUCCESS: '已扣款',
  OVER_LIMIT: '额度不足',
  NOT_SIGNED: '未签约',
  DECLINED: '银行拒绝',
  FAILED: '扣款失败',
};
