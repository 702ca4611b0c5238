import { ListPage } from '../../components/ListPage';
import { dash, tagOf } from '../../components/cells';
import { label, LOGIN_EVENT, LOGIN_REASON, options, time } from '../../format';

interface LoginRow {
  id: number;
  username: string;
  event: string;
  reason: string | null;
  ip: string | null;
  userAgent: string | null;
  createdAt: string;
}

export default function LoginLogPage() {
  return (
    <ListPage<LoginRow>
      title="登录日志"
      path="/logs/logins"
      testId="log-logins"
      rowKey="id"
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'username', label: '用户名' },
        { name: 'event', label: '事件', type: 'select', options: options(LOGIN_EVENT) },
      ]}
      columns={[
        { title: '时间', dataIndex: 'createdAt', render: time },
        { title: '用户名', dataIndex: 'username' },
        { title: '事件', dataIndex: 'event', render: tagOf(LOGIN_EVENT) },
        {
          title: '原因',
          dataIndex: 'reason',
          render: (r: string | null) => (r ? label(LOGIN_REASON, r) : '-'),
        },
        { title: 'IP', dataIndex: 'ip', render: dash },
        { title: '设备', dataIndex: 'userAgent', width: 360, render: dash },
      ]}
    />
  );
}
