import { Alert, Button, Form, Input, Modal, message } from 'antd';
import { useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { ListPage } from '../components/ListPage';
import { dash, orderLink, tagOf } from '../components/cells';
import { ALERT_KIND, ALERT_STATUS, errorText, label, options, SEVERITY, time } from '../format';

interface AlertRow {
  id: number;
  hospitalId: string | null;
  kind: string;
  severity: string;
  orderId: string | null;
  message: string;
  status: string;
  resolvedBy: string | null;
  resolvedAt: string | null;
  resolution: string | null;
  createdAt: string;
}

export default function AlertsPage() {
  const { can } = useAuth();
  const [resolving, setResolving] = useState<AlertRow>();
  const [reload, setReload] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();

  const resolve = async () => {
    const { resolution } = (await form.validateFields()) as { resolution: string };
    setBusy(true);
    try {
      await api('POST', `/alerts/${resolving!.id}/resolve`, { body: { resolution: resolution.trim() } });
      void message.success('告警已处理');
      setResolving(undefined);
      setReload((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ListPage<AlertRow>
        title="告警消息"
        path="/alerts"
        testId="alerts"
        rowKey="id"
        reloadKey={reload}
        filters={[
          { name: 'range', label: '日期', type: 'dateRange' },
          { name: 'status', label: '状态', type: 'select', options: options(ALERT_STATUS) },
          { name: 'severity', label: '级别', type: 'select', options: options(SEVERITY) },
          { name: 'kind', label: '类型', type: 'select', options: options(ALERT_KIND) },
          { name: 'hospitalId', label: '医院', type: 'hospital' },
        ]}
        columns={[
          { title: '时间', dataIndex: 'createdAt', render: time },
          { title: '级别', dataIndex: 'severity', render: tagOf(SEVERITY) },
          { title: '类型', dataIndex: 'kind', render: (k: string) => label(ALERT_KIND, k) },
          { title: '内容', dataIndex: 'message', width: 380 },
          {
            title: '订单',
            dataIndex: 'orderId',
            render: (id: string | null) => orderLink(id, id ? '查看订单' : null),
          },
          { title: '状态', dataIndex: 'status', render: tagOf(ALERT_STATUS) },
          { title: '处理说明', dataIndex: 'resolution', render: dash },
          { title: '处理时间', dataIndex: 'resolvedAt', render: time },
          {
            title: '操作',
            key: 'op',
            fixed: 'right',
            render: (_: unknown, r) =>
              r.status === 'OPEN' && can('alerts.resolve') ? (
                <Button
                  size="small"
                  type="link"
                  onClick={() => (setError(undefined), form.resetFields(), setResolving(r))}
                  data-testid="btn-resolve"
                >
                  处理
                </Button>
              ) : null,
          },
        ]}
      />
      <Modal
        title="处理告警"
        open={!!resolving}
        onOk={() => void resolve()}
        okButtonProps={{ loading: busy }}
        onCancel={() => setResolving(undefined)}
        okText="标记为已处理"
      >
        <p>{resolving?.message}</p>
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} />}
        <Form form={form} layout="vertical">
          <Form.Item
            name="resolution"
            label="处理说明"
            rules={[{ required: true, min: 2, max: 500, message: '请填写处理说明（2–500 字）' }]}
          >
            <Input.TextArea rows={3} maxLength={500} showCount data-testid="resolution" />
          </Form.Item>
        </Form>
      </Modal>
    </>
  );
}
