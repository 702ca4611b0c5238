import { Col, Row } from 'antd';
import { ListPage } from '../../components/ListPage';
import { Json } from '../../components/Json';
import { dash } from '../../components/cells';
import { AUDIT_ACTION, label, options, time } from '../../format';

interface AuditRow {
  id: number;
  username: string;
  action: string;
  targetType: string;
  targetId: string | null;
  before: unknown;
  after: unknown;
  ip: string | null;
  requestId: string | null;
  createdAt: string;
}

const TARGET: Record<string, string> = {
  order: '订单',
  admin_user: '用户',
  admin_role: '角色',
  alert: '告警',
  recon_item: '对账差异',
  recon_run: '对账批次',
};

/** 审计日志: every admin write, with who, what, before and after. */
export default function AuditLogPage() {
  return (
    <ListPage<AuditRow>
      title="审计日志"
      path="/logs/audit"
      testId="log-audit"
      rowKey="id"
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'username', label: '操作人' },
        { name: 'action', label: '操作', type: 'select', options: options(AUDIT_ACTION) },
        {
          name: 'targetType',
          label: '对象类型',
          type: 'select',
          options: Object.entries(TARGET).map(([value, l]) => ({ value, label: l })),
        },
        { name: 'targetId', label: '对象 ID' },
      ]}
      expandable={{
        rowExpandable: (r) => r.before !== null || r.after !== null,
        expandedRowRender: (r) => (
          <Row gutter={16}>
            <Col xs={24} lg={12}>
              <b>修改前</b>
              <Json value={r.before} />
            </Col>
            <Col xs={24} lg={12}>
              <b>修改后</b>
              <Json value={r.after} />
            </Col>
          </Row>
        ),
      }}
      columns={[
        { title: '时间', dataIndex: 'createdAt', render: time },
        { title: '操作人', dataIndex: 'username' },
        { title: '操作', dataIndex: 'action', render: (a: string) => label(AUDIT_ACTION, a) },
        { title: '对象类型', dataIndex: 'targetType', render: (t: string) => TARGET[t] ?? t },
        { title: '对象 ID', dataIndex: 'targetId', render: dash },
        { title: 'IP', dataIndex: 'ip', render: dash },
        { title: '请求ID', dataIndex: 'requestId', render: dash },
      ]}
    />
  );
}
