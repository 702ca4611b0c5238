import { PlusOutlined } from '@ant-design/icons';
import { Alert, Button, Form, Input, Modal, Popconfirm, Select, Space, Tag, message } from 'antd';
import { useEffect, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import { ListPage } from '../components/ListPage';
import { errorText, time, USER_STATUS } from '../format';
import { hospitalName, useHospitals } from '../hooks';

interface UserRow {
  id: string;
  username: string;
  displayName: string;
  roleId: string;
  roleCode: string;
  roleName: string;
  hospitalId: string | null;
  status: string;
  lockedUntil: string | null;
  lastLoginAt: string | null;
  createdAt: string;
}

/** Built-in roles (modules/admin/permissions.ts), for admins who may manage users but not roles. */
const BUILTIN_ROLES = [
  { value: 'super_admin', label: '超级管理员' },
  { value: 'finance', label: '财务' },
  { value: 'cashier', label: '收费窗口' },
  { value: 'it_ops', label: '信息科运维' },
  { value: 'auditor', label: '审计（只读）' },
];

const PASSWORD_RULES = [
  { required: true, message: '请输入密码' },
  {
    validator: async (_r: unknown, v: string) => {
      const classes = [/[A-Za-z]/, /\d/, /[^A-Za-z\d]/].filter((r) => r.test(v ?? '')).length;
      if (!v || v.length < 10 || v.length > 128 || classes < 2)
        throw new Error('10–128 位，至少包含字母、数字、符号中的两类');
    },
  },
];

const locked = (u: UserRow) => !!u.lockedUntil && new Date(u.lockedUntil).getTime() > Date.now();

type Dialog = { kind: 'create' } | { kind: 'edit'; user: UserRow } | { kind: 'password'; user: UserRow };

export default function UsersPage() {
  const { user: me, can } = useAuth();
  const hospitals = useHospitals();
  const [roles, setRoles] = useState(BUILTIN_ROLES);
  const [dialog, setDialog] = useState<Dialog>();
  const [reload, setReload] = useState(0);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const [form] = Form.useForm();

  useEffect(() => {
    if (!can('roles.manage')) return;
    api<{ items: { code: string; name: string }[] }>('GET', '/roles')
      .then((r) => setRoles(r.items.map((x) => ({ value: x.code, label: x.name }))))
      .catch(() => undefined);
  }, []);

  const act = async (what: () => Promise<unknown>, done: string) => {
    try {
      await what();
      void message.success(done);
      setReload((n) => n + 1);
    } catch (e) {
      void message.error(errorText(e));
    }
  };

  const openDialog = (d: Dialog) => {
    setError(undefined);
    form.resetFields();
    if (d.kind === 'edit')
      form.setFieldsValue({ displayName: d.user.displayName, roleCode: d.user.roleCode });
    setDialog(d);
  };

  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      if (dialog?.kind === 'create') {
        await api('POST', '/users', {
          body: {
            username: v.username.trim(),
            displayName: v.displayName.trim(),
            password: v.password,
            roleCode: v.roleCode,
            ...(v.hospitalId ? { hospitalId: v.hospitalId } : {}),
          },
        });
        void message.success(`用户 ${v.username} 已创建`);
      } else if (dialog?.kind === 'edit') {
        const body: Record<string, string> = {};
        if (v.displayName.trim() !== dialog.user.displayName) body.displayName = v.displayName.trim();
        if (v.roleCode !== dialog.user.roleCode) body.roleCode = v.roleCode;
        await api('PATCH', `/users/${dialog.user.id}`, { body });
        void message.success('已保存');
      } else if (dialog?.kind === 'password') {
        await api('POST', `/users/${dialog.user.id}/password`, { body: { password: v.password } });
        void message.success('密码已重置，该用户需重新登录');
      }
      setDialog(undefined);
      setReload((n) => n + 1);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <ListPage<UserRow>
        title="用户管理"
        path="/users"
        testId="users"
        rowKey="id"
        reloadKey={reload}
        filters={[]}
        extra={
          <Button
            type="primary"
            icon={<PlusOutlined />}
            onClick={() => openDialog({ kind: 'create' })}
            data-testid="btn-new-user"
          >
            新建用户
          </Button>
        }
        columns={[
          { title: '用户名', dataIndex: 'username' },
          { title: '姓名', dataIndex: 'displayName' },
          { title: '角色', dataIndex: 'roleName', render: (n: string) => <Tag color="blue">{n}</Tag> },
          {
            title: '医院',
            dataIndex: 'hospitalId',
            render: (h: string | null) => (h ? hospitalName(hospitals, h) : '全部医院'),
          },
          {
            title: '状态',
            dataIndex: 'status',
            render: (s: string, u) => (
              <Space size={4}>
                <Tag color={USER_STATUS[s]?.color}>{USER_STATUS[s]?.text ?? s}</Tag>
                {locked(u) && <Tag color="error">已锁定</Tag>}
              </Space>
            ),
          },
          { title: '最近登录', dataIndex: 'lastLoginAt', render: time },
          { title: '创建时间', dataIndex: 'createdAt', render: time },
          {
            title: '操作',
            key: 'op',
            fixed: 'right',
            render: (_: unknown, u) => (
              <Space size={0}>
                <Button
                  size="small"
                  type="link"
                  onClick={() => openDialog({ kind: 'edit', user: u })}
                  disabled={u.id === me?.id}
                >
                  编辑
                </Button>
                <Button size="small" type="link" onClick={() => openDialog({ kind: 'password', user: u })}>
                  重置密码
                </Button>
                {locked(u) && (
                  <Button
                    size="small"
                    type="link"
                    onClick={() => void act(() => api('POST', `/users/${u.id}/unlock`), '已解锁')}
                  >
                    解锁
                  </Button>
                )}
                {u.id !== me?.id && (
                  <Popconfirm
                    title={
                      u.status === 'ACTIVE'
                        ? `停用 ${u.username}？其登录会话将立即失效。`
                        : `启用 ${u.username}？`
                    }
                    onConfirm={() =>
                      void act(
                        () =>
                          api('PATCH', `/users/${u.id}`, {
                            body: { status: u.status === 'ACTIVE' ? 'DISABLED' : 'ACTIVE' },
                          }),
                        u.status === 'ACTIVE' ? '已停用' : '已启用',
                      )
                    }
                  >
                    <Button size="small" type="link" danger={u.status === 'ACTIVE'}>
                      {u.status === 'ACTIVE' ? '停用' : '启用'}
                    </Button>
                  </Popconfirm>
                )}
              </Space>
            ),
          },
        ]}
      />
      <Modal
        title={
          dialog?.kind === 'create'
            ? '新建用户'
            : dialog?.kind === 'edit'
              ? `编辑用户 ${dialog.user.username}`
              : dialog
                ? `重置密码：${dialog.user.username}`
                : ''
        }
        open={!!dialog}
        onOk={() => void submit()}
        onCancel={() => setDialog(undefined)}
        okButtonProps={{ loading: busy }}
        okText="保存"
        destroyOnHidden
      >
        {error && (
          <Alert
            type="error"
            showIcon
            message={error}
            style={{ marginBottom: 12 }}
            data-testid="user-error"
          />
        )}
        <Form form={form} layout="vertical" preserve={false}>
          {dialog?.kind === 'create' && (
            <Form.Item
              name="username"
              label="用户名"
              rules={[
                { required: true, pattern: /^[a-zA-Z0-9_.-]{3,32}$/, message: '3–32 位字母、数字或 _ . -' },
              ]}
            >
              <Input autoComplete="off" id="new-username" />
            </Form.Item>
          )}
          {dialog?.kind !== 'password' && (
            <>
              <Form.Item
                name="displayName"
                label="姓名"
                rules={[{ required: true, max: 32, message: '请输入姓名' }]}
              >
                <Input id="new-display-name" />
              </Form.Item>
              <Form.Item name="roleCode" label="角色" rules={[{ required: true, message: '请选择角色' }]}>
                <Select options={roles} placeholder="选择角色" id="new-role" />
              </Form.Item>
            </>
          )}
          {dialog?.kind === 'create' && !me?.hospitalId && hospitals.length > 1 && (
            <Form.Item name="hospitalId" label="所属医院" extra="不选则可查看全部医院">
              <Select
                allowClear
                options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
                placeholder="全部医院"
              />
            </Form.Item>
          )}
          {dialog?.kind !== 'edit' && (
            <Form.Item
              name="password"
              label={dialog?.kind === 'password' ? '新密码' : '初始密码'}
              rules={PASSWORD_RULES}
            >
              <Input.Password autoComplete="new-password" id="new-password" />
            </Form.Item>
          )}
        </Form>
      </Modal>
    </>
  );
}
