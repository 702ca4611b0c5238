import type { Labels } from '../../format';

/** What the matching engine found (bff/src/modules/recon/engine.ts). */
export const RECON_OUTCOME: Labels = {
  channel_only: { text: '渠道单边（平台无）', color: 'volcano' },
  platform_only: { text: '平台单边（渠道无）', color: 'orange' },
  his_only: { text: 'HIS 单边', color: 'magenta' },
  his_missing: { text: 'HIS 未入账', color: 'red' },
  amount_mismatch: { text: '金额不符', color: 'red' },
  status_mismatch: { text: '状态不符', color: 'purple' },
  fee_difference: { text: '手续费差异', color: 'gold' },
};

export const RECON_ITEM_STATUS: Labels = {
  HOLDING: { text: '挂账中', color: 'processing' },
  OPEN: { text: '待处理', color: 'error' },
  RESOLVED: { text: '已处理', color: 'success' },
};

export const RECON_RESOLUTION: Labels = {
  manual: { text: '人工处理' },
  refunded: { text: '已退款' },
  matched_cross_day: { text: '跨日匹配' },
  cleared_by_rerun: { text: '重新对账后消除' },
};

export const RECON_RUN_STATUS: Labels = {
  RUNNING: { text: '对账中', color: 'processing' },
  DONE: { text: '已完成', color: 'success' },
  FAILED: { text: '失败', color: 'error' },
};

export const RECON_KIND: Labels = {
  PAYMENT: { text: '支付', color: 'blue' },
  REFUND: { text: '退款', color: 'orange' },
};

/** Channels of the platform and the HIS's offline channels (ledger records). */
export const RECON_CHANNEL: Labels = {
  wechatpay: { text: '微信支付', color: 'green' },
  alipay: { text: '支付宝', color: 'blue' },
  bankpay: { text: '聚合支付', color: 'gold' },
  cash: { text: '现金退款', color: 'default' },
  CASH: { text: '现金（窗口）' },
  MISPOS: { text: '银行卡 POS' },
  mispos: { text: '银行卡 POS（收单行）', color: 'cyan' },
  KIOSK: { text: '自助机' },
  PREPAID: { text: '预交金/就诊卡' },
};

export const ABNORMAL_REFUND_STATUS: Labels = {
  ABNORMAL: { text: '退款异常', color: 'red' },
  FAILED: { text: '退款失败', color: 'error' },
};

/** Who did it: `admin:<id>`, `system`, `job:…`, `test`. */
export function actorText(a: string | null | undefined): string {
  if (!a) return '-';
  if (a === 'system') return '系统';
  if (a.startsWith('admin:')) return `管理员（${a.slice(6)}）`;
  if (a.startsWith('job')) return '定时任务';
  return a;
}

/** recon_statements.status: what became of a day's statement (download or upload). */
export const STATEMENT_STATUS: Labels = {
  IMPORTED: { text: '已导入', color: 'success' },
  NO_TRADE: { text: '无交易', color: 'default' },
  PENDING: { text: '未获取（待出账）', color: 'processing' },
  FAILED: { text: '失败', color: 'error' },
};

/** recon_statements.bill_type. */
export const BILL_TYPE: Labels = {
  TRADE: { text: '交易账单', color: 'blue' },
  FUNDFLOW: { text: '资金账单', color: 'purple' },
  TERMINAL: { text: '终端对账单', color: 'cyan' },
};

/** Why a statement file was refused (the parser's error code, before the message). */
export const STATEMENT_REFUSAL: Labels = {
  STATEMENT_FORMAT: { text: '文件格式不符（不是该类账单、列不对或文件不完整）' },
  STATEMENT_INCONSISTENT: { text: '文件内容自相矛盾（汇总与明细不符、重复记录或不是本商户的账单）' },
  STATEMENT_HASH_MISMATCH: { text: '文件校验值不符' },
  STATEMENT_WRONG_DATE: { text: '账单日期与所选日期不符' },
};

/** recon_push_targets.protocol. */
export const PUSH_PROTOCOL: Labels = {
  sftp: { text: 'SFTP', color: 'geekblue' },
  ftps: { text: 'FTPS', color: 'blue' },
  ftp: { text: 'FTP（明文）', color: 'orange' },
};

/** recon_deliveries.status. */
export const DELIVERY_STATUS: Labels = {
  PENDING: { text: '待推送/重试中', color: 'processing' },
  DELIVERED: { text: '已送达', color: 'success' },
  FAILED: { text: '推送失败', color: 'error' },
};
