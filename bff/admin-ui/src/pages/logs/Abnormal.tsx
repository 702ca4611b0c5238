import { ListPage } from '../../components/ListPage';
import { dash, tagOf } from '../../components/cells';
import { ABNORMAL_SOURCE, options, time } from '../../format';

interface AbnormalRow {
  source: string;
  id: string;
  at: string;
  subject: string;
  action: string;
  ref: string | null;
  status: string;
  errorCode: string | null;
  message: string | null;
  latencyMs: number | null;
}

/** 异常请求: failed outbound calls, refused HIS calls and rejected channel notifications, newest first. */
export default function AbnormalPage() {
  return (
    <ListPage<AbnormalRow>
      title="异常请求"
      path="/logs/abnormal"
      testId="log-abnormal"
      rowKey={(r) => `${r.source}:${r.id}`}
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'source', label: '来源', type: 'select', options: options(ABNORMAL_SOURCE) },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
      ]}
      columns={[
        { title: '时间', dataIndex: 'at', render: time },
        { title: '来源', dataIndex: 'source', render: tagOf(ABNORMAL_SOURCE) },
        { title: '对象', dataIndex: 'subject' },
        { title: '动作', dataIndex: 'action' },
        { title: '关联单号 / 请求', dataIndex: 'ref', render: dash },
        { title: '状态', dataIndex: 'status' },
        { title: '错误码', dataIndex: 'errorCode', render: dash },
        { title: '信息', dataIndex: 'message', width: 320, render: dash },
        { title: '耗时 (ms)', dataIndex: 'latencyMs', align: 'right', render: dash },
      ]}
    />
  );
}
