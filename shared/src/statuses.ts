/** Order states (design.md "Orders and their states"). */
export const ORDER_STATUSES = [
  'CREATED',
  'PAYING',
  'PAID',
  'SETTLED',
  'CLOSED',
  'FAILED',
  'REFUNDING',
  'PARTIALLY_REFUNDED',
  'REFUNDED',
  'CONFLICTED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Orders in these states still hold their bills. */
export const LIVE_ORDER_STATUSES: readonly OrderStatus[] = ['CREATED', 'PAYING'];

/** Bill states. A bill is payable only while UNPAID and not held by a live order. */
export const BILL_STATUSES = ['UNPAID', 'PAID', 'CANCELLED'] as const;
export type BillStatus = (typeof BILL_STATUSES)[number];

/** Payment (one channel attempt) states. */
export const PAYMENT_STATUSES = ['PENDING', 'SUCCESS', 'FAILED', 'CLOSED', 'CONFLICTED'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

/** Whether the HIS has acknowledged the result of an order. */
export const HIS_SYNC_STATUSES = ['NONE', 'PENDING', 'ACKED', 'FAILED'] as const;
export type HisSyncStatus = (typeof HIS_SYNC_STATUSES)[number];

/** Channels a patient can pay with: WeChat Pay, Alipay and the bank aggregator (聚合支付). Later issues add credit pay. */
export const CHANNELS = ['wechatpay', 'alipay', 'bankpay'] as const;
export type ChannelName = (typeof CHANNELS)[number];

/** How the channel collects: QR (Native), JSAPI / mini-program, H5, payment code. */
export const TRADE_TYPES = ['NATIVE', 'JSAPI', 'H5', 'MICROPAY'] as const;
export type TradeType = (typeof TRADE_TYPES)[number];

/** How a hospital's HIS hands us bills: it pushes them (open API), or we pull them when the patient looks. */
export const BILL_MODES = ['push', 'pull'] as const;
export type BillMode = (typeof BILL_MODES)[number];

/** Kinds of card a HIS identifies a patient by: its own card (就诊卡), a medical-insurance card, an ID card. */
export const CARD_TYPES = ['HOSPITAL_CARD', 'MEDICARE_CARD', 'ID_CARD'] as const;
export type CardType = (typeof CARD_TYPES)[number];

/** Formats of an e-invoice file (电子票据) we pass on to patients; nothing else is served. */
export const INVOICE_CONTENT_TYPES = ['application/pdf', 'image/png'] as const;
export type InvoiceContentType = (typeof INVOICE_CONTENT_TYPES)[number];
