import { CloudUploadOutlined, PlusOutlined, ReloadOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Button,
  Card,
  Checkbox,
  DatePicker,
  Form,
  Input,
  InputNumber,
  Modal,
  Popconfirm,
  Select,
  Space,
  Table,
  Tag,
  Typography,
  message,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useCallback, useEffect, useState } from 'react';
import { ApiError, api, type Page } from '../../api';
import type { Delivery, PushTarget, RedeliverReply } from '../../api-types';
import { useAuth } from '../../auth';
import { dash, tagOf } from '../../components/cells';
import { confirmed } from '../../components/confirm';
import { ListPage } from '../../components/ListPage';
import { errorText, options, time } from '../../format';
import { hospitalColumn, useHospitals } from '../../hooks';
import { actorText, DELIVERY_STATUS, PUSH_PROTOCOL } from './labels';

const DAY = 'YYYY-MM-DD';
const DEFAULT_FILE_NAME = 'recon_{hospital}_{yyyymmdd}.csv';

/** A push refused or failed, for staff: why, in the server's words. */
function pushErrorText(e: unknown): string {
  if (e instanceof ApiError) {
    if (e.code === 'conflict') return `无法推送：${e.message}`;
    if (e.code === 'his_unavailable' || e.code === 'his_error') return `推送失败：${e.message}`;
  }
  return errorText(e);
}

/** A setting of a target as the API shows it (secrets never; certificates as fingerprints). */
const setting = (t: PushTarget, key: string): string | undefined => {
  const v = (t.settings as Record<string, unknown>)[key];
  return v === undefined || v === null || v === '' ? undefined : String(v);
};
const secretTag = (set: boolean) => (set ? <Tag color="success">已设置</Tag> : <Tag>未设置</Tag>);

interface TargetForm {
  hospitalId?: string;
  name: string;
  protocol: 'sftp' | 'ftp' | 'ftps';
  host: string;
  port?: number | null;
  username: string;
  remoteDir: string;
  deadline: string;
  fileNamePattern?: string;
  hostKeySha256?: string;
  caCertPem?: string;
  allowPlaintext?: boolean;
  password?: string;
  privateKey?: string;
  passphrase?: string;
}

const trimmed = (v: string | undefined) => (v?.trim() ? v.trim() : undefined);

/**
 * 新建 / 编辑推送目标. Passwords and keys are write-only: an existing one shows as 已设置 and is kept unless
 * a new one is typed; a certificate likewise (only its fingerprint is shown).
 */
function TargetModal(props: { target?: PushTarget; open: boolean; onClose(done: boolean): void }) {
  const { target, open } = props;
  const hospitals = useHospitals();
  const [form] = Form.useForm<TargetForm>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const protocol = Form.useWatch('protocol', form) ?? target?.protocol ?? 'sftp';

  // The form is mounted afresh each time the dialog opens (destroyOnHidden): these are its values.
  const initial: Partial<TargetForm> = target
    ? {
        name: target.name,
        protocol: target.protocol as TargetForm['protocol'],
        host: target.host,
        port: target.port,
        username: target.username,
        remoteDir: target.remoteDir,
        deadline: target.deadline,
        fileNamePattern: setting(target, 'fileNamePattern'),
        hostKeySha256: setting(target, 'hostKeySha256'),
        allowPlaintext: setting(target, 'allowPlaintext') === 'true',
      }
    : { protocol: 'sftp', remoteDir: '/', deadline: '12:00', allowPlaintext: false };
  const close = (done: boolean) => {
    setError(undefined);
    props.onClose(done);
  };

  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(undefined);
    const secrets = {
      password: v.password || undefined,
      ...(v.protocol === 'sftp'
        ? { privateKey: trimmed(v.privateKey), passphrase: v.passphrase || undefined }
        : {}),
    };
    const common = {
      name: v.name.trim(),
      protocol: v.protocol,
      host: v.host.trim(),
      username: v.username,
      remoteDir: v.remoteDir.trim(),
      deadline: v.deadline.trim(),
      ...(v.port ? { port: v.port } : {}),
      ...secrets,
    };
    try {
      if (!target) {
        await api('POST', '/recon/push-targets', {
          body: {
            ...common,
            ...(v.hospitalId ? { hospitalId: v.hospitalId } : {}),
            settings: {
              fileNamePattern: trimmed(v.fileNamePattern),
              ...(v.protocol === 'sftp' ? { hostKeySha256: trimmed(v.hostKeySha256) } : {}),
              ...(v.protocol === 'ftps' ? { caCertPem: trimmed(v.caCertPem) } : {}),
              ...(v.protocol === 'ftp' && v.allowPlaintext ? { allowPlaintext: true } : {}),
            },
          },
        });
        void message.success(`推送目标已创建：${common.name}`);
      } else {
        const wasPlain = setting(target, 'allowPlaintext') === 'true';
        await api('PATCH', `/recon/push-targets/${target.id}`, {
          body: {
            ...common,
            settings: {
              // An emptied field removes the setting (null); a certificate is kept unless a new one is given.
              fileNamePattern: trimmed(v.fileNamePattern) ?? null,
              hostKeySha256: v.protocol === 'sftp' ? (trimmed(v.hostKeySha256) ?? null) : null,
              ...(v.protocol !== 'ftps'
                ? { caCertPem: null }
                : trimmed(v.caCertPem)
                  ? { caCertPem: trimmed(v.caCertPem) }
                  : {}),
              ...(!!v.allowPlaintext !== wasPlain || (wasPlain && v.protocol !== 'ftp')
                ? { allowPlaintext: v.protocol === 'ftp' && v.allowPlaintext ? true : null }
                : {}),
            },
          },
        });
        void message.success(`推送目标已保存：${common.name}`);
      }
      close(true);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const keep = (set: boolean) => (target && set ? '已设置，留空则不修改' : undefined);
  return (
    <Modal
      title={target ? `编辑推送目标 ${target.name}` : '新建推送目标'}
      open={open}
      onOk={() => void submit()}
      okText="保存"
      okButtonProps={{ loading: busy }}
      onCancel={() => close(false)}
      width={680}
      destroyOnHidden
    >
      {error && (
        <Alert
          type="error"
          showIcon
          message={error}
          style={{ marginBottom: 12 }}
          data-testid="target-error"
        />
      )}
      <Form form={form} layout="vertical" initialValues={initial}>
        {!target && hospitals.length > 1 && (
          <Form.Item name="hospitalId" label="医院" rules={[{ required: true, message: '请选择医院' }]}>
            <Select options={hospitals.map((h) => ({ value: h.id, label: h.name }))} />
          </Form.Item>
        )}
        <Space style={{ display: 'flex' }} align="start" wrap>
          <Form.Item name="name" label="名称" rules={[{ required: true, max: 64, message: '请填写名称' }]}>
            <Input id="target-name" style={{ width: 200 }} placeholder="如 HIS 对账服务器" />
          </Form.Item>
          <Form.Item name="protocol" label="协议" rules={[{ required: true }]}>
            <Select style={{ width: 140 }} options={options(PUSH_PROTOCOL)} />
          </Form.Item>
          <Form.Item name="deadline" label="送达截止（次日，北京时间）" rules={[{ required: true }]}>
            <Input style={{ width: 120 }} placeholder="HH:mm" />
          </Form.Item>
        </Space>
        <Space style={{ display: 'flex' }} align="start" wrap>
          <Form.Item name="host" label="主机" rules={[{ required: true, message: '请填写主机名或 IP' }]}>
            <Input style={{ width: 260 }} placeholder="his-ftp.hospital.local" />
          </Form.Item>
          <Form.Item name="port" label="端口">
            <InputNumber min={1} max={65535} placeholder={protocol === 'sftp' ? '22' : '21'} />
          </Form.Item>
          <Form.Item name="username" label="用户名" rules={[{ required: true, message: '请填写用户名' }]}>
            <Input style={{ width: 180 }} autoComplete="off" />
          </Form.Item>
        </Space>
        <Space style={{ display: 'flex' }} align="start" wrap>
          <Form.Item name="remoteDir" label="远端目录" rules={[{ required: true }]}>
            <Input style={{ width: 260 }} placeholder="/" />
          </Form.Item>
          <Form.Item name="fileNamePattern" label="文件名">
            <Input style={{ width: 300 }} placeholder={DEFAULT_FILE_NAME} />
          </Form.Item>
        </Space>
        {protocol === 'sftp' && (
          <Form.Item name="hostKeySha256" label="主机密钥指纹（SHA256:…，生产环境必填）">
            <Input placeholder="ssh-keyscan <host> | ssh-keygen -lf -" />
          </Form.Item>
        )}
        {protocol === 'ftps' && (
          <Form.Item
            name="caCertPem"
            label={`服务器证书或 CA（PEM）${target && setting(target, 'caCertPem') ? `：${setting(target, 'caCertPem')}` : ''}`}
          >
            <Input.TextArea
              rows={3}
              placeholder={keep(!!target && !!setting(target, 'caCertPem')) ?? '-----BEGIN CERTIFICATE-----'}
            />
          </Form.Item>
        )}
        {protocol === 'ftp' && (
          <Form.Item name="allowPlaintext" valuePropName="checked">
            <Checkbox>允许明文 FTP（密码和文件不加密传输，生产环境须明确允许）</Checkbox>
          </Form.Item>
        )}
        <Form.Item
          name="password"
          label="密码"
          rules={[{ required: !target && protocol !== 'sftp', message: '请填写密码' }]}
        >
          <Input.Password autoComplete="new-password" placeholder={keep(!!target?.hasPassword)} />
        </Form.Item>
        {protocol === 'sftp' && (
          <>
            <Form.Item name="privateKey" label="私钥（OpenSSH 或 PEM，可代替密码）">
              <Input.TextArea rows={3} placeholder={keep(!!target?.hasPrivateKey)} />
            </Form.Item>
            <Form.Item name="passphrase" label="私钥口令">
              <Input.Password autoComplete="new-password" />
            </Form.Item>
          </>
        )}
      </Form>
    </Modal>
  );
}

/** 推送目标: where the daily file goes (settings.view to see, settings.manage to change). */
function TargetsCard({ onTargets }: { onTargets(t: PushTarget[]): void }) {
  const { can } = useAuth();
  const hospitals = useHospitals();
  const [items, setItems] = useState<PushTarget[]>([]);
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<string>();
  const [editing, setEditing] = useState<{ target?: PushTarget }>();

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const r = await api<{ items: PushTarget[] }>('GET', '/recon/push-targets');
      setItems(r.items);
      onTargets(r.items);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, []);
  useEffect(() => {
    void load();
  }, [load]);

  const setEnabled = async (t: PushTarget, enabled: boolean) => {
    try {
      await api('PATCH', `/recon/push-targets/${t.id}`, { body: { enabled } });
      void message.success(`${t.name} 已${enabled ? '启用' : '停用'}`);
      await load();
    } catch (e) {
      void message.error(errorText(e));
    }
  };

  const manage = can('settings.manage');
  return (
    <Card
      size="small"
      title="推送目标"
      style={{ marginBottom: 16 }}
      data-testid="push-targets"
      extra={
        <Space>
          <Button icon={<ReloadOutlined />} onClick={() => void load()}>
            刷新
          </Button>
          {manage && (
            <Button
              type="primary"
              icon={<PlusOutlined />}
              onClick={() => setEditing({})}
              data-testid="btn-new-target"
            >
              新建推送目标
            </Button>
          )}
        </Space>
      }
    >
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 8 }} />}
      <Table<PushTarget>
        size="small"
        rowKey="id"
        loading={loading}
        pagination={false}
        dataSource={items}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: '尚未配置推送目标：对账文件不会推送给 HIS' }}
        columns={[
          { title: '名称', dataIndex: 'name', fixed: 'left' },
          ...hospitalColumn(hospitals),
          { title: '协议', dataIndex: 'protocol', render: tagOf(PUSH_PROTOCOL) },
          { title: '地址', key: 'addr', render: (_: unknown, t) => `${t.host}:${t.port}` },
          { title: '用户名', dataIndex: 'username' },
          { title: '远端目录', dataIndex: 'remoteDir' },
          {
            title: '文件名',
            key: 'file',
            render: (_: unknown, t) => setting(t, 'fileNamePattern') ?? DEFAULT_FILE_NAME,
          },
          { title: '截止', dataIndex: 'deadline' },
          { title: '密码', dataIndex: 'hasPassword', render: secretTag },
          {
            title: '私钥',
            dataIndex: 'hasPrivateKey',
            render: (set: boolean, t) => (t.protocol === 'sftp' ? secretTag(set) : '-'),
          },
          {
            title: '主机指纹 / 证书',
            key: 'trust',
            render: (_: unknown, t) => dash(setting(t, 'hostKeySha256') ?? setting(t, 'caCertPem')),
          },
          {
            title: '状态',
            dataIndex: 'enabled',
            render: (e: boolean) => (e ? <Tag color="success">启用</Tag> : <Tag>停用</Tag>),
          },
          ...(manage
            ? [
                {
                  title: '操作',
                  key: 'op',
                  fixed: 'right' as const,
                  render: (_: unknown, t: PushTarget) => (
                    <Space size={0}>
                      <Button size="small" type="link" onClick={() => setEditing({ target: t })}>
                        编辑
                      </Button>
                      <Popconfirm
                        title={t.enabled ? `停用 ${t.name}？停用后不再推送。` : `启用 ${t.name}？`}
                        onConfirm={() => void setEnabled(t, !t.enabled)}
                      >
                        <Button size="small" type="link" danger={t.enabled} data-testid="btn-toggle-target">
                          {t.enabled ? '停用' : '启用'}
                        </Button>
                      </Popconfirm>
                    </Space>
                  ),
                },
              ]
            : []),
        ]}
      />
      <TargetModal
        open={!!editing}
        target={editing?.target}
        onClose={(done) => {
          setEditing(undefined);
          if (done) void load();
        }}
      />
    </Card>
  );
}

/** 立即推送 of a target and day not listed yet (or any): asks again, with force, when it was delivered. */
function DeliverModal(props: {
  open: boolean;
  targets: { id: string; name: string }[];
  deliver(targetId: string, date: string): Promise<boolean>;
  onClose(): void;
}) {
  const [form] = Form.useForm<{ targetId: string; date: Dayjs }>();
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    try {
      if (await props.deliver(v.targetId, v.date.format(DAY))) props.onClose();
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title="立即推送对账文件"
      open={props.open}
      onOk={() => void submit()}
      okText="推送"
      okButtonProps={{ loading: busy }}
      onCancel={props.onClose}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">
        按该日最近一次对账结果生成文件并推送；该日尚未对账或对账失败时不推送。
      </Typography.Paragraph>
      <Form form={form} layout="vertical" initialValues={{ date: dayjs().subtract(1, 'day') }}>
        <Form.Item name="targetId" label="推送目标" rules={[{ required: true, message: '请选择推送目标' }]}>
          <Select options={props.targets.map((t) => ({ value: t.id, label: t.name }))} />
        </Form.Item>
        <Form.Item name="date" label="业务日期" rules={[{ required: true, message: '请选择业务日期' }]}>
          <DatePicker allowClear={false} />
        </Form.Item>
      </Form>
    </Modal>
  );
}

/**
 * 对账文件推送: the HIS's SFTP/FTP targets (secrets shown only as 已设置) and every delivery with its status,
 * attempts and last error; 立即推送 for recon.resolve, confirming a re-send of a delivered day.
 */
export default function ReconPushPage() {
  const { can } = useAuth();
  const { modal } = App.useApp();
  const hospitals = useHospitals();
  const [targets, setTargets] = useState<PushTarget[]>([]);
  const [reload, setReload] = useState(0);
  const [deliverOpen, setDeliverOpen] = useState(false);
  const [recentTargets, setRecentTargets] = useState<{ id: string; name: string }[]>([]);

  // Without settings.view the targets to choose from are those of the recent deliveries.
  useEffect(() => {
    if (!deliverOpen || can('settings.view')) return;
    api<Page<Delivery>>('GET', '/recon/deliveries', { query: { pageSize: 100 } }).then(
      (r) =>
        setRecentTargets([
          ...new Map(
            r.items.map((d) => [d.targetId, { id: d.targetId, name: d.targetName ?? d.targetId }]),
          ).values(),
        ]),
      () => setRecentTargets([]),
    );
  }, [deliverOpen]);

  const confirmResend = (d: { deliveredAt: string | null; remotePath: string | null }) =>
    confirmed(modal, {
      title: '该日文件已送达',
      content: `${d.remotePath ?? '文件'} 已于 ${time(d.deliveredAt)} 送达。重新推送将用最新对账结果生成文件并替换服务器上的文件，确定吗？`,
      okText: '重新推送',
    });

  /** Sends a day's file to a target now; true when it was delivered. */
  const deliver = async (targetId: string, date: string, force = false): Promise<boolean> => {
    try {
      const r = await api<RedeliverReply>('POST', '/recon/deliveries', { body: { targetId, date, force } });
      if (r.outcome === 'already_delivered') {
        if (!(await confirmResend(r.delivery))) return false;
        return deliver(targetId, date, true);
      }
      void message.success(`已送达：${r.delivery.remotePath ?? r.delivery.fileName ?? ''}`);
      return true;
    } catch (e) {
      void message.error(pushErrorText(e));
      return false;
    } finally {
      setReload((n) => n + 1);
    }
  };
  const deliverRow = async (d: Delivery) => {
    if (d.status === 'DELIVERED' && !(await confirmResend(d))) return;
    await deliver(d.targetId, d.businessDate, d.status === 'DELIVERED');
  };

  const targetOptions = can('settings.view') ? targets.filter((t) => t.enabled) : recentTargets;

  return (
    <div data-testid="recon-push">
      <h2 className="hp-page-title">对账文件推送</h2>
      {can('settings.view') && <TargetsCard onTargets={setTargets} />}
      {can('recon.view') && (
        <ListPage<Delivery>
          title="推送记录"
          path="/recon/deliveries"
          testId="recon-deliveries"
          rowKey="id"
          reloadKey={reload}
          filters={[
            { name: 'range', label: '业务日期', type: 'dateRange' },
            { name: 'status', label: '状态', type: 'select', options: options(DELIVERY_STATUS) },
            ...(targets.length
              ? [
                  {
                    name: 'targetId',
                    label: '推送目标',
                    type: 'select' as const,
                    options: targets.map((t) => ({ value: t.id, label: t.name })),
                  },
                ]
              : []),
            { name: 'hospitalId', label: '医院', type: 'hospital' },
          ]}
          extra={
            can('recon.resolve') && (
              <Button
                icon={<CloudUploadOutlined />}
                onClick={() => setDeliverOpen(true)}
                data-testid="btn-deliver"
              >
                立即推送
              </Button>
            )
          }
          columns={[
            { title: '业务日期', dataIndex: 'businessDate', fixed: 'left' },
            ...hospitalColumn(hospitals),
            {
              title: '推送目标',
              dataIndex: 'targetName',
              render: (n: string | null, d) => n ?? d.targetId,
            },
            { title: '协议', dataIndex: 'protocol', render: tagOf(PUSH_PROTOCOL) },
            { title: '状态', dataIndex: 'status', render: tagOf(DELIVERY_STATUS) },
            { title: '尝试次数', dataIndex: 'attempts', align: 'right' },
            {
              title: '最后错误',
              dataIndex: 'lastError',
              width: 320,
              render: (m: string | null) => (m ? <Typography.Text type="danger">{m}</Typography.Text> : '-'),
            },
            { title: '远端文件', dataIndex: 'remotePath', render: dash },
            { title: '大小（字节）', dataIndex: 'fileBytes', align: 'right', render: dash },
            { title: '触发', dataIndex: 'triggeredBy', render: actorText },
            { title: '送达时间', dataIndex: 'deliveredAt', render: time },
            ...(can('recon.resolve')
              ? [
                  {
                    title: '操作',
                    key: 'op',
                    fixed: 'right' as const,
                    render: (_: unknown, d: Delivery) => (
                      <Button
                        size="small"
                        type="link"
                        onClick={() => void deliverRow(d)}
                        data-testid="btn-deliver-row"
                      >
                        立即推送
                      </Button>
                    ),
                  },
                ]
              : []),
          ]}
        />
      )}
      <DeliverModal
        open={deliverOpen}
        targets={targetOptions}
        deliver={(targetId, date) => deliver(targetId, date)}
        onClose={() => setDeliverOpen(false)}
      />
    </div>
  );
}
