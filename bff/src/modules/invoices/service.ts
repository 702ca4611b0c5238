import type { InvoiceContentType, OrderInvoicesResponse } from '@hp/shared';
import { asc, eq, sql } from 'drizzle-orm';
import { invoices } from '../../db/schema';
import type { Deps } from '../../deps';
import { notFound, toAppError } from '../../lib/errors';
import { newId } from '../../lib/ids';
import type { HisInvoice } from '../his/client';
import { requireHisEndpoint } from '../his/endpoint';
import type { OrderRow } from '../orders/repo';
import { ownOrder, type PatientPrincipal } from '../orders/service';

/** Keeps the metadata of the invoices the HIS answered, so the list survives the HIS being down. */
async function cacheInvoices(deps: Pick<Deps, 'db'>, order: OrderRow, list: HisInvoice[]): Promise<void> {
  for (const i of list) {
    const meta = {
      invoiceCode: i.invoiceCode,
      amountFen: i.amountFen,
      issuedAt: i.issuedAt,
      contentType: i.contentType,
    };
    await deps.db
      .insert(invoices)
      .values({
        id: newId('inv'),
        hospitalId: order.hospitalId,
        orderId: order.id,
        invoiceNo: i.invoiceNo,
        ...meta,
      })
      .onConflictDoUpdate({
        target: [invoices.orderId, invoices.invoiceNo],
        set: { ...meta, updatedAt: sql`now()` },
      });
  }
}

/**
 * The e-invoices of one of the patient's orders. A paid order asks the HIS first (new invoices are cached);
 * when the HIS does not answer, the cached ones are listed and `hisUnavailable` says so.
 */
export async function listInvoicesForPatient(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
): Promise<OrderInvoicesResponse> {
  const order = await ownOrder(deps, who, orderId);
  let hisUnavailable = false;
  if (order.paidAt) {
    try {
      const endpoint = await requireHisEndpoint(deps, order.hospitalId);
      await cacheInvoices(deps, order, await deps.his.invoice(endpoint, order.orderNo));
    } catch (e) {
      const err = toAppError(e);
      if (err.code !== 'his_unavailable' && err.code !== 'his_error' && err.code !== 'not_found') throw e;
      deps.log.warn(
        { orderNo: order.orderNo, code: err.code, reason: err.message },
        'HIS invoices unavailable: listing the cached ones',
      );
      hisUnavailable = true;
    }
  }
  const rows = await deps.db
    .select()
    .from(invoices)
    .where(eq(invoices.orderId, order.id))
    .orderBy(asc(invoices.issuedAt), asc(invoices.invoiceNo));
  return {
    invoices: rows.map((r) => ({
      invoiceCode: r.invoiceCode,
      invoiceNo: r.invoiceNo,
      amountFen: r.amountFen,
      issuedAt: r.issuedAt.toISOString(),
      contentType: r.contentType as InvoiceContentType,
      fileUrl: `/api/orders/${order.id}/invoices/${encodeURIComponent(r.invoiceNo)}/file`,
    })),
    hisUnavailable,
  };
}

/** The file of one invoice of the patient's order, fetched from the HIS now (`his_unavailable` if it is down). */
export async function invoiceFileForPatient(
  deps: Deps,
  who: PatientPrincipal,
  orderId: string,
  invoiceNo: string,
): Promise<{ contentType: InvoiceContentType; file: Buffer; fileName: string }> {
  const order = await ownOrder(deps, who, orderId);
  if (!order.paidAt) throw notFound('invoice');
  const list = await deps.his.invoice(await requireHisEndpoint(deps, order.hospitalId), order.orderNo);
  await cacheInvoices(deps, order, list);
  const inv = list.find((i) => i.invoiceNo === invoiceNo);
  if (!inv) throw notFound('invoice');
  return {
    contentType: inv.contentType,
    file: inv.file,
    fileName: `${inv.invoiceNo}.${inv.contentType === 'application/pdf' ? 'pdf' : 'png'}`,
  };
}
