import dayjs from 'dayjs';
import { fenToYuan, yuanToFen } from '../../../shared/src/money';
import { ApiError } from './api';

export { yuanToFen };

/** ¥ and yuan with thousands separators, from integer fen (string arithmetic, no floating point). */
export function money(fen: number | null | undefined): string {
  if (fen === null || fen === undefined) return '-';
  const [whole, cents] = fenToYuan(fen).split('.') as [string, string];
  const sign = whole.startsWith('-') ? '-' : '';
  const digits = whole.replace('-', '').replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}¥${digits}.${cents}`;
}

/** Yuan without the sign, for inputs. */
export const yuan = (fen: number) => fenToYuan(fen);

export function time(v: string | null | undefined): string {
  return v ? dayjs(v).format('YYYY-MM-DD HH:mm:ss') : '-';
}

export function percent(v: number | null | undefined): string {
  return v === null || v === undefined ? '-' : `${(v * 100).toFixed(1)}%`;
}

/** A label and an antd tag colour per code. */
export type Labels = Record<string, { text: string; color?: string }>;

export const ORDER_STATUS: Labels = {
  CREATED: { text: '已创建', color: 'default' },
  PAYING: { text: '支付中', color: 'processing' },
  PAID: { text: '已支付', color: 'blue' },
  SETTLED: { text: '已入账', color: 'success' },
  CLOSED: { text: '已关闭', color: 'default' },
  FAILED: { text: '失败', color: 'error' },
  REFUNDING: { text: '退款中', color: 'warning' },
  PARTIALLY_REFUNDED: { text: '部分退款', color: 'orange' },
  REFUNDED: { text: '已退款', color: 'purple' },
  CONFLICTED: { text: '异常冲突', color: 'red' },
};

export const CHANNEL: Labels = {
  wechatpay: { text: '微信支付', color: 'green' },
  alipay: { text: '支付宝', color: 'blue' },
  bankpay: { text: '聚合支付', color: 'gold' },
  cash: { text: '现金', color: 'default' },
};

export const TRADE_TYPE: Labels = {
  NATIVE: { text: '扫码支付' },
  JSAPI: { text: '公众号/小程序' },
  H5: { text: 'H5 支付' },
  MICROPAY: { text: '付款码' },
};

export const HIS_SYNC: Labels = {
  NONE: { text: '未推送', color: 'default' },
  PENDING: { text: '推送中', color: 'processing' },
  ACKED: { text: '已确认', color: 'success' },
  FAILED: { text: '推送失败', color: 'error' },
};

export const PAYMENT_STATUS: Labels = {
  PENDING: { text: '待支付', color: 'processing' },
  SUCCESS: { text: '成功', color: 'success' },
  FAILED: { text: '失败', color: 'error' },
  CLOSED: { text: '已关闭', color: 'default' },
  CONFLICTED: { text: '冲突', color: 'red' },
};

export const REFUND_STATUS: Labels = {
  PENDING: { text: '待处理', color: 'default' },
  PROCESSING: { text: '处理中', color: 'processing' },
  SUCCESS: { text: '退款成功', color: 'success' },
  FAILED: { text: '退款失败', color: 'error' },
  ABNORMAL: { text: '退款异常', color: 'red' },
};

export const REFUND_METHOD: Labels = {
  CHANNEL: { text: '原路退回', color: 'blue' },
  CASH: { text: '现金退款', color: 'orange' },
};

export const PUSH_STATUS: Labels = {
  PENDING: { text: '待推送', color: 'processing' },
  ACKED: { text: '已确认', color: 'success' },
  RETRYING: { text: '重试中', color: 'warning' },
  FAILED: { text: '失败', color: 'error' },
};

export const BILL_STATUS: Labels = {
  UNPAID: { text: '未缴费', color: 'default' },
  PAID: { text: '已缴费', color: 'success' },
  CANCELLED: { text: '已作废', color: 'default' },
};

export const ORDER_EVENT: Labels = {
  created: { text: '创建订单' },
  start_payment: { text: '发起支付', color: 'blue' },
  paid: { text: '支付成功', color: 'green' },
  settled: { text: 'HIS 已入账', color: 'green' },
  close: { text: '订单关闭', color: 'gray' },
  fail: { text: '支付失败', color: 'red' },
  refund_start: { text: '发起退款', color: 'orange' },
  partially_refunded: { text: '部分退款成功', color: 'orange' },
  refunded: { text: '全额退款成功', color: 'orange' },
  late_refund_partial: { text: '迟到的退款成功（部分）', color: 'orange' },
  late_refund_full: { text: '迟到的退款成功（全额）', color: 'orange' },
  cash_refund_partial: { text: '现金退款（部分）', color: 'orange' },
  cash_refund_full: { text: '现金退款（全额）', color: 'orange' },
  refund_aborted_to_paid: { text: '退款失败，恢复为已支付', color: 'red' },
  refund_aborted_to_settled: { text: '退款失败，恢复为已入账', color: 'red' },
  refund_aborted_to_partial: { text: '退款失败，恢复为部分退款', color: 'red' },
  conflict: { text: '异常冲突', color: 'red' },
};

export const ALERT_STATUS: Labels = {
  OPEN: { text: '待处理', color: 'error' },
  RESOLVED: { text: '已处理', color: 'success' },
};

export const SEVERITY: Labels = {
  critical: { text: '严重', color: 'red' },
  warning: { text: '警告', color: 'orange' },
  info: { text: '提示', color: 'blue' },
};

export const ALERT_KIND: Labels = {
  one_sided_entry: { text: '单边账' },
  double_payment: { text: '重复支付' },
  merchant_mismatch: { text: '商户不符' },
  notifications_rejected: { text: '通知被拒' },
  payment_unresolved: { text: '支付状态未决' },
  refund_abnormal: { text: '退款异常' },
  refund_late_success: { text: '迟到的退款成功' },
  refund_mismatch: { text: '退款金额不符' },
  his_refund_push_failed: { text: '退款推送 HIS 失败' },
  unknown_order_notified: { text: '未知订单通知' },
  amount_mismatch: { text: '金额不符' },
  refunded_outside: { text: '渠道外退款' },
  paid_during_reverse: { text: '撤销中支付成功' },
  paid_after_close: { text: '关单后支付成功' },
};

export const PARTY: Labels = {
  wechatpay: { text: '微信支付', color: 'green' },
  alipay: { text: '支付宝', color: 'blue' },
  bankpay: { text: '聚合支付', color: 'gold' },
  his: { text: 'HIS', color: 'purple' },
};

export const CALL_RESULT: Labels = {
  SUCCESS: { text: '成功', color: 'success' },
  FAIL: { text: '失败', color: 'error' },
  PENDING: { text: '处理中', color: 'processing' },
  UNKNOWN: { text: '未知（超时）', color: 'warning' },
};

export const ABNORMAL_SOURCE: Labels = {
  outbound: { text: '外呼失败', color: 'volcano' },
  open_api: { text: '开放接口拒绝', color: 'magenta' },
  notification: { text: '渠道通知拒绝', color: 'red' },
};

export const LOGIN_EVENT: Labels = {
  login: { text: '登录', color: 'success' },
  logout: { text: '退出', color: 'default' },
  failed: { text: '登录失败', color: 'warning' },
  locked: { text: '账户锁定', color: 'error' },
  refresh_reuse: { text: '令牌重放', color: 'red' },
};

export const LOGIN_REASON: Labels = {
  bad_password: { text: '密码错误' },
  unknown_user: { text: '用户不存在' },
  locked: { text: '账户已锁定' },
  disabled: { text: '账户已停用' },
  too_many_failures: { text: '连续失败次数过多' },
};

export const AUDIT_ACTION: Labels = {
  'order.refund': { text: '原路退款' },
  'order.cash_refund': { text: '现金退款' },
  'user.create': { text: '创建用户' },
  'user.update': { text: '修改用户' },
  'user.reset_password': { text: '重置密码' },
  'user.unlock': { text: '解锁用户' },
  'user.change_password': { text: '修改本人密码' },
  'role.create': { text: '创建角色' },
  'role.update': { text: '修改角色' },
  'role.delete': { text: '删除角色' },
  'alert.resolve': { text: '处理告警' },
  'recon.resolve': { text: '处理对账差异' },
  'recon.refund': { text: '对账差异退款' },
  'recon.run': { text: '重新对账' },
  'recon.upload': { text: '上传对账单' },
  'recon.redeliver': { text: '立即推送对账文件' },
  'recon.push_target.create': { text: '新建推送目标' },
  'recon.push_target.update': { text: '修改推送目标' },
  'recon.push_target.enable': { text: '启用推送目标' },
  'recon.push_target.disable': { text: '停用推送目标' },
};

export const USER_STATUS: Labels = {
  ACTIVE: { text: '正常', color: 'success' },
  DISABLED: { text: '已停用', color: 'default' },
  LOCKED: { text: '已锁定', color: 'error' },
};

export const label = (labels: Labels, code: string | null | undefined) =>
  code ? (labels[code]?.text ?? code) : '-';

export const options = (labels: Labels) =>
  Object.entries(labels).map(([value, l]) => ({ value, label: l.text }));

const ERRORS: Record<string, string> = {
  invalid_credentials: '用户名或密码错误',
  account_disabled: '账户已停用，请联系管理员',
  forbidden: '没有权限执行此操作',
  not_found: '记录不存在或无权查看',
  refund_exceeds_paid: '退款金额超过可退金额',
  refund_in_progress: '该订单已有退款在处理中，请稍后再试',
  order_not_refundable: '订单当前状态不可退款',
  rate_limited: '请求过于频繁，请稍后再试',
  channel_error: '支付渠道返回错误',
  channel_unavailable: '支付渠道暂不可用，请稍后再试',
  his_unavailable: 'HIS 暂不可用',
  internal_error: '系统内部错误',
  service_unavailable: '服务暂不可用',
};

/** A message for staff, in Chinese, with the server's detail where it helps. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'account_locked') {
      const until = /until (\S+)$/.exec(e.message)?.[1];
      const at = until && !Number.isNaN(Date.parse(until)) ? dayjs(until).format('HH:mm') : null;
      return `账户已锁定：连续登录失败次数过多${at ? `，请于 ${at} 后再试` : ''}，或联系信息科解锁`;
    }
    if (e.code === 'validation_failed' || e.code === 'bad_request' || e.code === 'conflict')
      return `输入有误：${e.message}`;
    const known = ERRORS[e.code];
    if (known) return e.code === 'channel_error' || e.code === 'forbidden' ? `${known}：${e.message}` : known;
    return e.message;
  }
  return e instanceof Error ? e.message : String(e);
}

/** Kinds of messages the platform sends patients (bff/src/modules/messages/service.ts). */
export const PATIENT_MESSAGE_KIND: Labels = {
  bill_waiting: { text: '待缴费', color: 'orange' },
  payment_succeeded: { text: '缴费成功', color: 'green' },
  refund_done: { text: '退款到账', color: 'blue' },
  credit_debit_failed: { text: '信用扣款失败', color: 'red' },
  credit_signed: { text: '信用就医开通', color: 'green' },
  deposit_paid: { text: '押金缴纳', color: 'green' },
  settlement_refunded: { text: '出院结算退款', color: 'blue' },
  settlement_debited: { text: '出院结算补缴', color: 'purple' },
};
