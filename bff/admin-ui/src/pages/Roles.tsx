import { PlusOutlined } from '@ant-design/icons';
import {
  Alert,
  Button,
  Card,
  Checkbox,
  Col,
  Form,
  Input,
  Modal,
  Popconfirm,
  Row,
  Space,
  Table,
  Tag,
  message,
} from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { errorText, time } from '../format';

interface Role {
  id: string;
  code: string;
  name: string;
  permissions: string[];
  builtin: boolean;
  createdAt: string;
  updatedAt: string;
}

/** Permissions grouped the way staff think of them. */
const GROUPS: { title: string; prefixes: string[] }[] = [
  { title: '首页与订单', prefixes: ['dashboard.', 'orders.', 'refunds.'] },
  { title: '对账', prefixes: ['recon.'] },
  { title: '消息与评价', prefixes: ['alerts.', 'comments.'] },
  { title: '日志与审计', prefixes: ['logs.', 'logins.', 'audit.'] },
  { title: '系统', prefixes: ['users.', 'roles.', 'settings.'] },
  { title: '个人信息', prefixes: ['pii.'] },
];

export default function RolesPage() {
  const { user } = useAuth();
  const [roles, setRoles] = useState<Role[]>([]);
  const [catalog, setCatalog] = useState<Record<string, string>>({});
  const [loading, setLoading] = useState(false);
  const [editing, setEditing] = useState<Role | 'new'>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const r = await api<{ items: Role[]; permissions: Record<string, string> }>('GET', '/roles');
      setRoles(r.items);
      setCatalog(r.permissions);
    } catch (e) {
      void message.error(errorText(e));
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const open = (r: Role | 'new') => {
    setError(undefined);
    form.resetFields();
    if (r !== 'new') form.setFieldsValue({ code: r.code, name: r.name, permissions: r.permissions });
    setEditing(r);
  };

  const save = async () => {
    const v = (await form.validateFields()) as { code: string; name: string; permissions?: string[] };
    setBusy(true);
    try {
      if (editing === 'new')
        await api('POST', '/roles', {
          body: { code: v.code.trim(), name: v.name.trim(), permissions: v.permissions ?? [] },
        });
      else if (editing)
        await api('PATCH', `/roles/${editing.id}`, {
          body: { name: v.name.trim(), permissions: v.permissions ?? [] },
        });
      void message.success('角色已保存');
      setEditing(undefined);
      void load();
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async (r: Role) => {
    try {
      await api('DELETE', `/roles/${r.id}`);
      void message.success('角色已删除');
      void load();
    } catch (e) {
      void message.error(errorText(e));
    }
  };

  const readOnly = editing !== 'new' && !!editing?.builtin;
  const mine = new Set(user?.permissions ?? []);
  const codes = Object.keys(catalog);

  return (
    <div data-testid="roles">
      <h2 className="hp-page-title">角色与权限</h2>
      <Card size="small">
        <Space style={{ marginBottom: 12 }}>
          <Button type="primary" icon={<PlusOutlined />} onClick={() => open('new')}>
            新建角色
          </Button>
        </Space>
        <Table<Role>
          rowKey="id"
          size="middle"
          loading={loading}
          dataSource={roles}
          pagination={false}
          columns={[
            { title: '角色代码', dataIndex: 'code' },
            { title: '名称', dataIndex: 'name' },
            {
              title: '类型',
              dataIndex: 'builtin',
              render: (b: boolean) => (b ? <Tag color="blue">内置</Tag> : <Tag>自定义</Tag>),
            },
            {
              title: '权限',
              dataIndex: 'permissions',
              render: (ps: string[]) => (
                <Space size={[4, 4]} wrap style={{ maxWidth: 560 }}>
                  {ps.map((p) => (
                    <Tag key={p}>{catalog[p] ?? p}</Tag>
                  ))}
                </Space>
              ),
            },
            { title: '更新时间', dataIndex: 'updatedAt', render: time },
            {
              title: '操作',
              key: 'op',
              render: (_: unknown, r) => (
                <Space size={0}>
                  <Button type="link" size="small" onClick={() => open(r)}>
                    {r.builtin ? '查看' : '编辑'}
                  </Button>
                  {!r.builtin && (
                    <Popconfirm title={`删除角色 ${r.name}？`} onConfirm={() => void remove(r)}>
                      <Button type="link" size="small" danger>
                        删除
                      </Button>
                    </Popconfirm>
                  )}
                </Space>
              ),
            },
          ]}
        />
      </Card>
      <Modal
        width={760}
        title={
          editing === 'new'
            ? '新建角色'
            : readOnly
              ? `内置角色：${editing?.name}`
              : `编辑角色：${editing?.name ?? ''}`
        }
        open={!!editing}
        onCancel={() => setEditing(undefined)}
        onOk={() => (readOnly ? setEditing(undefined) : void save())}
        okText={readOnly ? '关闭' : '保存'}
        okButtonProps={{ loading: busy }}
        destroyOnHidden
      >
        {readOnly && (
          <Alert
            type="info"
            showIcon
            message="内置角色不可修改；如需调整，请新建角色。"
            style={{ marginBottom: 12 }}
          />
        )}
        {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} />}
        <Form form={form} layout="vertical" disabled={readOnly} preserve={false}>
          <Row gutter={16}>
            <Col span={12}>
              <Form.Item
                name="code"
                label="角色代码"
                rules={[
                  {
                    required: true,
                    pattern: /^[a-z][a-z0-9_]{2,31}$/,
                    message: '小写字母开头，3–32 位小写字母、数字或 _',
                  },
                ]}
              >
                <Input disabled={editing !== 'new'} />
              </Form.Item>
            </Col>
            <Col span={12}>
              <Form.Item name="name" label="名称" rules={[{ required: true, max: 32 }]}>
                <Input />
              </Form.Item>
            </Col>
          </Row>
          <Form.Item name="permissions" label="权限" extra="只能授予您自己拥有的权限。">
            <Checkbox.Group style={{ width: '100%' }}>
              {GROUPS.map((g) => {
                const inGroup = codes.filter((c) => g.prefixes.some((p) => c.startsWith(p)));
                if (!inGroup.length) return null;
                return (
                  <div key={g.title} style={{ marginBottom: 8, width: '100%' }}>
                    <div style={{ fontWeight: 600, margin: '4px 0' }}>{g.title}</div>
                    <Row>
                      {inGroup.map((c) => (
                        <Col span={12} key={c}>
                          <Checkbox value={c} disabled={!mine.has(c)}>
                            {catalog[c]} <span style={{ color: '#9ca3af', fontSize: 12 }}>{c}</span>
                          </Checkbox>
                        </Col>
                      ))}
                    </Row>
                  </div>
                );
              })}
            </Checkbox.Group>
          </Form.Item>
        </Form>
      </Modal>
    </div>
  );
}
