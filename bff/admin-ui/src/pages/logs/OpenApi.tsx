import { Tag } from 'antd';
import { ListPage } from '../../components/ListPage';
import { dash } from '../../components/cells';
import { time } from '../../format';

interface OpenApiRow {
  id: number;
  appId: string | null;
  method: string;
  path: string;
  httpStatus: number;
  errorCode: string | null;
  latencyMs: number;
  ip: string | null;
  requestId: string | null;
  createdAt: string;
}

/** 开放接口日志: every call the HIS made to our open API, accepted or refused. */
export default function OpenApiLogPage() {
  return (
    <ListPage<OpenApiRow>
      title="开放接口日志"
      path="/logs/open-api"
      testId="log-open-api"
      rowKey="id"
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'appId', label: 'HIS 应用 ID' },
        { name: 'path', label: '路径前缀', placeholder: '/open/v1/bills' },
        {
          name: 'failed',
          label: '只看失败',
          type: 'select',
          options: [{ value: 'true', label: '只看失败（HTTP ≥ 400）' }],
        },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
      ]}
      columns={[
        { title: '时间', dataIndex: 'createdAt', render: time },
        { title: '应用', dataIndex: 'appId', render: dash },
        { title: '方法', dataIndex: 'method' },
        { title: '路径', dataIndex: 'path' },
        {
          title: 'HTTP',
          dataIndex: 'httpStatus',
          render: (s: number) => <Tag color={s >= 500 ? 'red' : s >= 400 ? 'orange' : 'green'}>{s}</Tag>,
        },
        { title: '错误码', dataIndex: 'errorCode', render: dash },
        { title: '耗时 (ms)', dataIndex: 'latencyMs', align: 'right' },
        { title: 'IP', dataIndex: 'ip', render: dash },
        { title: '请求ID', dataIndex: 'requestId', render: dash },
      ]}
    />
  );
}
