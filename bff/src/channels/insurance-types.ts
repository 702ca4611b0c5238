import type { ChannelResult, NotificationReply } from './types';

/*
 * Medical insurance (医保) behind two interfaces:
 *
 * - {@link InsurancePlatform}: the national healthcare-security mobile payment platform (国家医保移动支付) as
 *   the hospital's insurance counterpart: the patient's authorisation, the fee-detail upload that returns the
 *   split (6201), its revocation (6401) and the personal-account balance.
 * - {@link InsuranceChannel}: who settles an uploaded order and takes the money: the national platform itself
 *   (6202 pay, 6301 query, 6302 notification, 6203 refund; the cash part is then collected by the hospital's
 *   own WeChat Pay JSAPI payment), or WeChat insurance pay (微信医保支付, the v3 `med-ins` mixed order, which
 *   takes the insurance part and the cash part in one payment sheet).
 *
 * Amounts are integer fen here; the adapters convert the platform's yuan strings at their edge.
 * Identity: `total = fund (统筹) + personal account (个账) + other + cash` — {@link checkSplit}.
 */

/** How an order's total is split between the insurance funds and the patient's cash. */
export interface InsuranceSplit {
  totalFen: number;
  /** 统筹基金支付 (fundPay / fund_pay_sumamt). */
  fundFen: number;
  /** 个人账户支付 (psnAcctPay / acct_pay). */
  psnAcctFen: number;
  /** Other funds (公务员补助, 大病保险, 医疗救助…): what insurance pays beyond fund and account. */
  otherFen: number;
  /** 个人现金支付 (ownPayAmt / psn_cash_pay): what a payment channel collects. */
  cashFen: number;
}

/** True when every part is a non-negative integer and the parts add up to the total. */
export function checkSplit(s: InsuranceSplit): boolean {
  const parts = [s.totalFen, s.fundFen, s.psnAcctFen, s.otherFen, s.cashFen];
  return (
    parts.every((n) => Number.isSafeInteger(n) && n >= 0) &&
    s.fundFen + s.psnAcctFen + s.otherFen + s.cashFen === s.totalFen
  );
}

/** The insured person as the platform identified them after the patient authorised us. */
export interface InsuredPerson {
  /** 人员编号 (psnNo). */
  psnNo: string;
  name: string;
  /** Full ID number: needed by 6201 and WeChat's id_digest; never logged, stored only encrypted. */
  idNo: string;
  /** 01: resident ID card. */
  idType: string;
  /** 险种 (insutype): 310 employee basic, 390 resident basic… */
  insutype: string;
  /** 参保地 (insuplc_admdvs). */
  insuplcAdmdvs?: string;
}

export interface AuthorizationOutput {
  result: ChannelResult;
  /** The payment authorisation number every later call carries, and until when it is good. */
  payAuthNo?: string;
  expiresAt?: Date;
  person?: InsuredPerson;
  errorCode?: string;
  errorMessage?: string;
}

/** One fee line uploaded with 6201 (费用明细), from the bill's items. */
export interface FeeDetail {
  /** 费用明细流水号 (feedetl_sn): unique within the upload. */
  feedetlSn: string;
  /** The HIS bill (处方/医嘱) the line belongs to. */
  hisBillNo: string;
  /** 医疗目录编码 / 医药机构目录编码. */
  itemCode: string;
  itemName: string;
  /**
   * Item category (医疗收费项目类别, med_chrgitm_type): 01 床位费, 02 诊察费, 03 检查费, 04 化验费, 05 治疗费,
   * 06 手术费, 07 护理费, 08 卫生材料费, 09 西药费, 10 中药饮片费, 11 中成药费, 12 一般诊疗费, 13 挂号费, 14 其他费.
   */
  category: string;
  /** Quantity as a decimal string ("1", "2.5"). */
  quantity: string;
  amountFen: number;
}

export interface UploadFeesInput {
  /** Our number for the upload (medOrgOrd): the order number. */
  orderNo: string;
  payAuthNo: string;
  person: InsuredPerson;
  /** 01 outpatient, 02 inpatient. */
  feeType: '01' | '02';
  /** 医疗类别 (med_type): 11 普通门诊, 12 门诊挂号, 14 门诊慢特病, 21 普通住院… */
  medType: string;
  /** 就诊 ID at the hospital (mdtrtId / the HIS visit number). */
  visitNo: string;
  deptCode: string;
  deptName: string;
  /** Whether the personal account may be used (acctUsedFlag). */
  useAccount: boolean;
  details: FeeDetail[];
  totalFen: number;
  /** When the visit began (begntime). */
  beganAt: Date;
}

export interface UploadFeesOutput {
  result: ChannelResult;
  /** 支付订单号 and the token 6202 needs. */
  payOrdId?: string;
  payToken?: string;
  split?: InsuranceSplit;
  /** The platform's settlement-level view, kept as the quote's evidence (amounts already in fen). */
  extra?: Record<string, unknown>;
  errorCode?: string;
  errorMessage?: string;
}

export interface RevokeUploadInput {
  orderNo: string;
  payOrdId: string;
  payAuthNo: string;
  person: InsuredPerson;
}

export interface BalanceOutput {
  result: ChannelResult;
  /** Personal-account balance (个人账户余额), fen. */
  balanceFen?: number;
  errorCode?: string;
  errorMessage?: string;
}

/** The national platform as the hospital's insurance counterpart (see the file comment). */
export interface InsurancePlatform {
  readonly name: string;
  /** Exchanges the code the authorisation page returned for a payAuthNo and the insured person. */
  authorize(authCode: string, orderHint?: string): Promise<AuthorizationOutput>;
  /** 6201: uploads the fee details; SUCCESS carries payOrdId, payToken and the split. */
  uploadFees(input: UploadFeesInput): Promise<UploadFeesOutput>;
  /** 6401: revokes an upload that will not be paid (SUCCESS also when already revoked). */
  revokeUpload(
    input: RevokeUploadInput,
  ): Promise<{ result: ChannelResult; errorCode?: string; errorMessage?: string }>;
  /** 1101-style person query: the personal-account balance. */
  queryBalance(payAuthNo: string, person: InsuredPerson): Promise<BalanceOutput>;
  /** The URL of the platform's authorisation page for a patient, returning to `returnUrl` with `authCode`. */
  authorizationPageUrl(input: { state: string; returnUrl: string }): string;
}

/** An insurance settlement's state at the settling party. */
export type InsuranceSettleState =
  /** Insurance part settled (and, for WeChat's mixed order, the cash part paid too when there is one). */
  | 'SETTLED'
  /** Created, waiting for the patient or the platform. */
  | 'PENDING'
  /** Refused or failed; nothing was taken. */
  | 'FAILED'
  /** Revoked or fully refunded. */
  | 'REFUNDED'
  | 'NOT_FOUND';

/** A settlement as the settling party reports it (query reply or notification). */
export interface InsuranceSettlement {
  orderNo: string;
  state: InsuranceSettleState;
  payOrdId?: string;
  /** 结算 ID (setl_id) at the platform / med_trans_id (WeChat). */
  settlementId?: string;
  /** WeChat's mix_trade_no. */
  mixTradeNo?: string;
  split?: InsuranceSplit;
  /** WeChat mixed order: the cash part's own state (self_pay_status) and the insurance part's. */
  cashState?: 'PAID' | 'PENDING' | 'FAILED' | 'REFUNDED' | 'NONE';
  insuranceState?: 'SETTLED' | 'PENDING' | 'FAILED' | 'REFUNDED' | 'NONE';
  settledAt?: Date;
  /** Merchant / institution the party says the settlement belongs to, cross-checked against ours. */
  orgCode?: string;
  appId?: string;
  rawState?: string;
}

export interface SettleInput {
  orderNo: string;
  payOrdId: string;
  payToken: string;
  payAuthNo: string;
  person: InsuredPerson;
  split: InsuranceSplit;
  notifyUrl: string;
  description: string;
  /** WeChat mixed order: the payer's openid, the JSAPI prepay_id of the cash part, the order type. */
  openId?: string;
  cashPrepayId?: string;
  orderType?: string;
  /** WeChat mixed order: the city (city_id), institution name and number. */
  cityId?: string;
}

export interface SettleOutput {
  /** SUCCESS: settled now (6202) or created (WeChat: PENDING settlement with client parameters). */
  result: ChannelResult;
  settlement?: InsuranceSettlement;
  /**
   * WeChat mixed order: what the client hands to `wx.requestMedicalInsurancePay` /
   * `WeixinJSBridge.invoke('requestMedicalInsurancePay')`, or the legacy `payUrl`/`payAppId` jump.
   */
  client?: Record<string, string>;
  errorCode?: string;
  errorMessage?: string;
}

export interface InsuranceRefundInput {
  orderNo: string;
  refundNo: string;
  payOrdId: string;
  payAuthNo?: string;
  settlementId?: string;
  mixTradeNo?: string;
  /** ALL: insurance and cash; HI: the insurance part only; CASH: the cash part only (6203 refdType). */
  kind: 'ALL' | 'HI' | 'CASH';
  /** The parts returned (fen); cashFen is what the cash channel returns, reported here for the record. */
  fundFen: number;
  psnAcctFen: number;
  otherFen: number;
  cashFen: number;
  reason: string;
  requestedAt: Date;
}

export type InsuranceRefundState = 'SUCCESS' | 'PROCESSING' | 'FAILED' | 'NOT_FOUND';

export interface InsuranceRefundOutput {
  result: ChannelResult;
  state?: InsuranceRefundState;
  /** The platform's refund id. */
  refundId?: string;
  errorCode?: string;
  errorMessage?: string;
}

export interface ParsedInsuranceNotification {
  notifyId: string;
  eventType: string;
  settlement: InsuranceSettlement;
}

/** Who settles an uploaded order (see the file comment). */
export interface InsuranceChannel {
  readonly name: string;
  /** 6202, or WeChat's mixed order. Timeout → UNKNOWN, resolved by {@link querySettlement}. */
  settle(input: SettleInput): Promise<SettleOutput>;
  /** 6301, or the mixed-order query by out_trade_no. */
  querySettlement(
    orderNo: string,
    payOrdId?: string,
    payAuthNo?: string,
  ): Promise<{
    result: ChannelResult;
    settlement?: InsuranceSettlement;
    errorCode?: string;
    errorMessage?: string;
  }>;
  /**
   * 6203 refund of the insurance part (national platform); for WeChat's mixed order the refund notice
   * (`/v3/med-ins/refunds/notify`) after the parts were refunded where they were paid.
   */
  refund(input: InsuranceRefundInput): Promise<InsuranceRefundOutput>;
  /** Verifies and decrypts a notification (6302, MEDICAL_INSURANCE.SUCCESS). Throws NotificationRejected. */
  parseNotification(
    headers: Record<string, string | undefined>,
    rawBody: string,
    now: Date,
  ): ParsedInsuranceNotification;
  notificationReply(ok: boolean, message?: string): NotificationReply;
}
