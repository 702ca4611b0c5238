import { Rate } from 'antd';
import { ListPage } from '../components/ListPage';
import { orderLink, tagOf } from '../components/cells';
import { CHANNEL, time } from '../format';

interface CommentRow {
  id: number;
  channel: string;
  channelTradeNo: string;
  orderId: string | null;
  orderNo: string | null;
  stars: number;
  content: string;
  commentedAt: string;
}

export default function CommentsPage() {
  return (
    <ListPage<CommentRow>
      title="订单评价"
      path="/comments"
      testId="comments"
      rowKey="id"
      filters={[
        { name: 'range', label: '评价日期', type: 'dateRange' },
        {
          name: 'stars',
          label: '星级',
          type: 'select',
          options: [5, 4, 3, 2, 1].map((s) => ({ value: String(s), label: `${s} 星` })),
        },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
      ]}
      columns={[
        { title: '评价时间', dataIndex: 'commentedAt', render: time },
        {
          title: '星级',
          dataIndex: 'stars',
          render: (s: number) => <Rate disabled value={s} style={{ fontSize: 14 }} />,
        },
        { title: '内容', dataIndex: 'content', width: 360 },
        { title: '渠道', dataIndex: 'channel', render: tagOf(CHANNEL) },
        { title: '渠道交易号', dataIndex: 'channelTradeNo' },
        { title: '订单号', dataIndex: 'orderNo', render: (no: string | null, r) => orderLink(r.orderId, no) },
      ]}
    />
  );
}
