import { Tag } from 'antd';
import { Link } from 'react-router-dom';
import { label, type Labels } from '../format';

/** A coded value as a coloured tag with its Chinese label. */
export const tagOf = (labels: Labels) => (code: string | null | undefined) =>
  code ? <Tag color={labels[code]?.color}>{label(labels, code)}</Tag> : '-';

/** A link to an order's detail page. */
export const orderLink = (orderId: string | null | undefined, text?: string | null) =>
  orderId ? <Link to={`/orders/${orderId}`}>{text ?? orderId}</Link> : (text ?? '-');

export const dash = (v: unknown) => (v === null || v === undefined || v === '' ? '-' : String(v));
