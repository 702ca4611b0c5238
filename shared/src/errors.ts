/**
 * The closed set of error codes any of our APIs returns, as `{ error: { code, message } }`.
 * Add a code here (and its HTTP status) before using it anywhere.
 */
export const ERROR_STATUS = {
  bad_request: 400,
  validation_failed: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unauthorized: 401,
  invalid_signature: 401,
  timestamp_out_of_window: 401,
  nonce_replayed: 401,
  invalid_credentials: 401,
  forbidden: 403,
  account_locked: 423,
  account_disabled: 403,
  not_found: 404,
  conflict: 409,
  bill_not_payable: 409,
  bill_locked: 409,
  order_not_payable: 409,
  order_not_refundable: 409,
  refund_in_progress: 409,
  refund_exceeds_paid: 409,
  /** The HIS says the name given does not match the card's (or ID number's) holder. */
  name_mismatch: 422,
  /** This account has already bound this patient's card. */
  card_already_bound: 409,
  /** The session has no patient yet (or not this one): bind the patient's card first. */
  card_required: 403,
  rate_limited: 429,
  /** The patient has not authorised the hospital to use their medical insurance (or it expired): authorise, or pay self-pay. */
  insurance_not_authorized: 403,
  /** The insurance platform refused the quote or the settlement (its code and message in the error). */
  insurance_refused: 422,
  /** A statement file that is corrupt, does not add up to its own summary, or is another day's or merchant's. */
  statement_rejected: 422,
  channel_error: 502,
  channel_unavailable: 503,
  /** The hospital information system answered something we cannot use (refused, malformed). */
  his_error: 502,
  /** The hospital information system did not answer (down, timeout, 5xx). */
  his_unavailable: 503,
  service_unavailable: 503,
  internal_error: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export const ERROR_CODES = Object.keys(ERROR_STATUS) as ErrorCode[];

/** The JSON body of every error reply. */
export interface ErrorBody {
  /** `orderId`: an order the request did create although it failed (poll it). */
  error: { code: ErrorCode; message: string; requestId?: string; orderId?: string };
}
