import type { RefundRow } from '../api-types';
import { ListPage } from '../components/ListPage';
import { dash, orderLink, tagOf } from '../components/cells';
import { CHANNEL, money, options, REFUND_METHOD, REFUND_STATUS, time } from '../format';

export default function RefundsPage() {
  return (
    <ListPage<RefundRow>
      title="退款记录"
      path="/refunds"
      testId="refunds"
      rowKey="id"
      filters={[
        { name: 'range', label: '申请日期', type: 'dateRange' },
        { name: 'no', label: '退款单号 / HIS 退款号 / 订单号', placeholder: '完整单号' },
        { name: 'status', label: '退款状态', type: 'select', options: options(REFUND_STATUS) },
        { name: 'method', label: '退款方式', type: 'select', options: options(REFUND_METHOD) },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
      ]}
      columns={[
        { title: '退款单号', dataIndex: 'refundNo', fixed: 'left' },
        { title: '订单号', dataIndex: 'orderNo', render: (no: string, r) => orderLink(r.orderId, no) },
        { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
        { title: '方式', dataIndex: 'method', render: tagOf(REFUND_METHOD) },
        { title: '状态', dataIndex: 'status', render: tagOf(REFUND_STATUS) },
        { title: '渠道', dataIndex: 'channel', render: tagOf(CHANNEL) },
        { title: '原因', dataIndex: 'reason' },
        {
          title: '发起方',
          dataIndex: 'requestedBy',
          render: (v: string) =>
            v.startsWith('admin:') ? '管理员' : v.startsWith('his:') ? 'HIS' : v === 'system' ? '系统' : v,
        },
        { title: 'HIS 退款号', dataIndex: 'hisRefundNo', render: dash },
        {
          title: '错误',
          dataIndex: 'errorMessage',
          render: (m: string | null, r) => (m ? `${r.errorCode ?? ''} ${m}` : '-'),
        },
        { title: '申请时间', dataIndex: 'createdAt', render: time },
        { title: '完成时间', dataIndex: 'succeededAt', render: time },
      ]}
    />
  );
}
