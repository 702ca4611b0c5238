import { InboxOutlined } from '@ant-design/icons';
import {
  Alert,
  App,
  Card,
  Checkbox,
  DatePicker,
  Form,
  Modal,
  Select,
  Space,
  Table,
  Typography,
  Upload,
  message,
  type UploadFile,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useEffect, useMemo, useState } from 'react';
import { ApiError, api } from '../../api';
import type { DailyReport, DailyStatement, MerchantAccount, UploadReply } from '../../api-types';
import { useAuth } from '../../auth';
import { tagOf } from '../../components/cells';
import { confirmed } from '../../components/confirm';
import { errorText, label } from '../../format';
import { useHospitals } from '../../hooks';
import { BILL_TYPE, RECON_CHANNEL, STATEMENT_REFUSAL, STATEMENT_STATUS } from './labels';

/** Largest file the server takes (upload.ts MAX_UPLOAD_FILE_BYTES). */
const MAX_FILE_BYTES = 40 * 1024 * 1024;
const DAY = 'YYYY-MM-DD';
const MISPOS = 'mispos';
/** Channels whose statements can be uploaded by channel (the hospital's enabled account of it). */
const UPLOAD_CHANNELS = ['wechatpay', 'alipay', 'bankpay'] as const;

/**
 * The statements of one hospital and day, as the daily report lists them (GET /recon/reports/daily):
 * per account and bill type, IMPORTED / NO_TRADE / PENDING / FAILED with the reason.
 */
export function useDayStatements(date: string | undefined, hospitalId: string | undefined, reloadKey = 0) {
  const [state, setState] = useState<{ items: DailyStatement[]; loading: boolean; error?: string }>({
    items: [],
    loading: false,
  });
  useEffect(() => {
    if (!date) {
      setState({ items: [], loading: false });
      return;
    }
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api<DailyReport>('GET', '/recon/reports/daily', { query: { date, hospitalId } }).then(
      (r) => live && setState({ items: r.statements, loading: false }),
      (e) => live && setState({ items: [], loading: false, error: errorText(e) }),
    );
    return () => {
      live = false;
    };
  }, [date, hospitalId, reloadKey]);
  return state;
}

/** The statements of a day per account: status, line count, and why a failed one was refused. */
export function StatementTable({ items, loading }: { items: DailyStatement[]; loading?: boolean }) {
  return (
    <Table<DailyStatement>
      size="small"
      pagination={false}
      loading={loading}
      rowKey={(s) => `${s.merchantAccountId}|${s.billType}`}
      dataSource={items}
      scroll={{ x: 'max-content' }}
      locale={{ emptyText: '当日尚无对账单（未下载也未上传）' }}
      columns={[
        { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
        { title: '商户账户', dataIndex: 'merchantAccountId' },
        { title: '账单类型', dataIndex: 'billType', render: tagOf(BILL_TYPE) },
        { title: '状态', dataIndex: 'status', render: tagOf(STATEMENT_STATUS) },
        { title: '笔数', dataIndex: 'lineCount', align: 'right' },
        {
          title: '原因',
          dataIndex: 'errorMessage',
          render: (m: string | null) => (m ? <Typography.Text type="danger">{m}</Typography.Text> : '-'),
        },
      ]}
    />
  );
}

/** 对账单状态: a day's statements of one hospital; the day and hospital are chosen here. */
export function StatementStatusCard(props: {
  date: Dayjs;
  hospitalId?: string;
  reloadKey: number;
  onChange(date: Dayjs, hospitalId: string | undefined): void;
}) {
  const hospitals = useHospitals();
  const hospitalId = props.hospitalId ?? (hospitals.length === 1 ? hospitals[0]!.id : undefined);
  const { items, loading, error } = useDayStatements(props.date.format(DAY), hospitalId, props.reloadKey);
  return (
    <Card
      size="small"
      style={{ marginTop: 16 }}
      data-testid="statement-status"
      title={
        <Space wrap>
          对账单状态
          <DatePicker
            value={props.date}
            allowClear={false}
            onChange={(d) => d && props.onChange(d, props.hospitalId)}
            data-testid="statement-date"
          />
          {hospitals.length > 1 && (
            <Select
              style={{ width: 200 }}
              placeholder="医院"
              value={hospitalId}
              onChange={(h: string) => props.onChange(props.date, h)}
              options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
            />
          )}
        </Space>
      }
    >
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 8 }} />}
      <StatementTable items={items} loading={loading} />
    </Card>
  );
}

interface UploadForm {
  hospitalId?: string;
  /** `account:<id>`, `channel:<channel>` or `mispos`. */
  target?: string;
  billType: 'TRADE' | 'FUNDFLOW' | 'TERMINAL';
  billDate: Dayjs;
  replace: boolean;
}

/** What the upload is of, from the form's `target`. */
function targetOf(target: string | undefined, accounts: MerchantAccount[]) {
  if (target === MISPOS) return { channel: MISPOS };
  if (target?.startsWith('account:')) {
    const id = target.slice('account:'.length);
    return { accountId: id, channel: accounts.find((a) => a.id === id)?.channel };
  }
  if (target?.startsWith('channel:')) return { channel: target.slice('channel:'.length) };
  return {};
}

function billTypesOf(channel: string | undefined): UploadForm['billType'][] {
  if (channel === MISPOS) return ['TERMINAL'];
  return channel === 'wechatpay' ? ['TRADE', 'FUNDFLOW'] : ['TRADE'];
}

/** The file's bytes as base64 (what the JSON body carries). */
function base64Of(file: File): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result).replace(/^data:[^,]*,/, ''));
    r.onerror = () => reject(r.error ?? new Error('the file could not be read'));
    r.readAsDataURL(file);
  });
}

/** A refused file: the parser's reason in Chinese, and its own words. */
function Refusal({ error }: { error: ApiError }) {
  // The server's message is `<CODE>: <the parser's reason>`.
  const m = /^([A-Z_]+): ([\s\S]*)$/.exec(error.message);
  const code = m?.[1];
  const detail = m?.[2] ?? error.message;
  return (
    <Alert
      type="error"
      showIcon
      style={{ marginBottom: 12 }}
      data-testid="upload-rejected"
      message="对账单未通过校验，已拒收，未做任何更改"
      description={
        <>
          <div>
            原因：{code ? label(STATEMENT_REFUSAL, code) : '文件被拒收'}
            {code && <Typography.Text code>{code}</Typography.Text>}
          </div>
          <Typography.Text type="secondary">{detail}</Typography.Text>
        </>
      }
    />
  );
}

/**
 * 上传对账单: a statement file by hand (POST /recon/statements/upload), for a download that failed or a
 * channel without one — checked by the download's own parser; a refused file changes nothing and the
 * reason is shown. An IMPORTED statement is replaced only when asked, after a confirmation.
 */
export function StatementUploadModal(props: {
  open: boolean;
  onClose(uploaded?: { date: Dayjs; hospitalId?: string }): void;
}) {
  const { can } = useAuth();
  const { modal } = App.useApp();
  const hospitals = useHospitals();
  const [form] = Form.useForm<UploadForm>();
  const [accounts, setAccounts] = useState<MerchantAccount[]>([]);
  const [files, setFiles] = useState<UploadFile[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const values = Form.useWatch([], form) as Partial<UploadForm> | undefined;

  // The accounts themselves for roles that may see the settings; others upload by channel.
  useEffect(() => {
    if (props.open && can('settings.view'))
      api<{ items: MerchantAccount[] }>('GET', '/settings/merchant-accounts').then(
        (r) => setAccounts(r.items.filter((a) => a.enabled)),
        () => setAccounts([]),
      );
  }, [props.open]);

  const hospitalId = values?.hospitalId ?? (hospitals.length === 1 ? hospitals[0]!.id : undefined);
  const target = targetOf(values?.target, accounts);
  const billTypes = billTypesOf(target.channel);
  const date = values?.billDate?.format(DAY);
  const day = useDayStatements(props.open && hospitalId ? date : undefined, hospitalId);
  const existing = day.items.find(
    (s) =>
      s.billType === values?.billType &&
      (target.accountId ? s.merchantAccountId === target.accountId : s.channel === target.channel),
  );

  const targetOptions = useMemo(() => {
    const mine = accounts.filter((a) => !hospitalId || a.hospitalId === hospitalId);
    const byAccount = mine.map((a) => ({
      value: `account:${a.id}`,
      label: `${label(RECON_CHANNEL, a.channel)} · 商户号 ${a.mchId}`,
    }));
    const byChannel = UPLOAD_CHANNELS.map((c) => ({
      value: `channel:${c}`,
      label: `${label(RECON_CHANNEL, c)}（本院启用的商户号）`,
    }));
    return [
      ...(byAccount.length ? byAccount : byChannel),
      { value: MISPOS, label: '银行卡 POS 收单行（MISPOS 终端对账单）' },
    ];
  }, [accounts, hospitalId]);

  const close = (uploaded?: { date: Dayjs; hospitalId?: string }) => {
    form.resetFields();
    setFiles([]);
    setError(undefined);
    props.onClose(uploaded);
  };

  const confirmReplace = (s: DailyStatement) =>
    confirmed(modal, {
      title: '覆盖已导入的对账单？',
      content: `${date} 的${label(BILL_TYPE, s.billType)}（${s.merchantAccountId}，${s.lineCount} 笔）已导入。覆盖后以本文件为准，原明细将被替换；覆盖后请重新对账。`,
      okText: '确认覆盖',
      okButtonProps: { danger: true },
    });

  const submit = async () => {
    const v = await form.validateFields();
    const file = files[0]?.originFileObj;
    if (!file) return setError(new Error('请选择对账单文件'));
    if (file.size > MAX_FILE_BYTES) return setError(new Error('文件超过 40 MB，请联系信息科处理'));
    if (v.replace && existing?.status === 'IMPORTED' && !(await confirmReplace(existing))) return;
    setBusy(true);
    setError(undefined);
    try {
      const t = targetOf(v.target, accounts);
      const r = await api<UploadReply>('POST', '/recon/statements/upload', {
        body: {
          ...(t.accountId ? { accountId: t.accountId } : { channel: t.channel, hospitalId }),
          billType: v.billType,
          billDate: v.billDate.format(DAY),
          fileName: file.name,
          fileBase64: await base64Of(file),
          ...(v.replace ? { replace: true } : {}),
        },
      });
      void message.success(
        `${label(BILL_TYPE, r.billType)}已导入：${r.lineCount} 笔。请重新对账该日以核对差异。`,
      );
      close({ date: v.billDate, hospitalId });
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title="上传对账单"
      open={props.open}
      onOk={() => void submit()}
      okText="上传并校验"
      okButtonProps={{ loading: busy }}
      onCancel={() => close()}
      width={640}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">
        渠道对账单下载失败或渠道无下载接口时，上传渠道发布的原始文件（微信 CSV、支付宝 zip、银行 CSV、POS
        终端对账单）。文件按下载时同样的规则校验（汇总与明细、商户、日期），不通过则拒收，不做任何更改。
      </Typography.Paragraph>
      {error instanceof ApiError && error.code === 'statement_rejected' ? (
        <Refusal error={error} />
      ) : error ? (
        <Alert
          type="error"
          showIcon
          style={{ marginBottom: 12 }}
          data-testid="upload-error"
          message={
            error instanceof ApiError && error.code === 'conflict'
              ? '该日此对账单已导入；如需以本文件替换，请勾选“覆盖已导入的对账单”'
              : errorText(error)
          }
        />
      ) : null}
      <Form
        form={form}
        layout="vertical"
        initialValues={{ billType: 'TRADE', billDate: dayjs().subtract(1, 'day'), replace: false }}
        onValuesChange={(changed: Partial<UploadForm>, all: UploadForm) => {
          if ('target' in changed) {
            const allowed = billTypesOf(targetOf(changed.target, accounts).channel);
            if (!allowed.includes(all.billType)) form.setFieldValue('billType', allowed[0]);
          }
        }}
      >
        {hospitals.length > 1 && (
          <Form.Item name="hospitalId" label="医院" rules={[{ required: true, message: '请选择医院' }]}>
            <Select
              placeholder="选择医院"
              data-testid="upload-hospital"
              options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
            />
          </Form.Item>
        )}
        <Form.Item
          name="target"
          label="商户号 / 渠道"
          rules={[{ required: true, message: '请选择对账单所属的商户号或渠道' }]}
        >
          <Select placeholder="选择商户号或渠道" options={targetOptions} data-testid="upload-target" />
        </Form.Item>
        <Space style={{ display: 'flex' }} align="start">
          <Form.Item name="billType" label="账单类型" rules={[{ required: true }]}>
            <Select
              style={{ width: 180 }}
              data-testid="upload-bill-type"
              options={billTypes.map((b) => ({ value: b, label: label(BILL_TYPE, b) }))}
            />
          </Form.Item>
          <Form.Item name="billDate" label="账单日期" rules={[{ required: true, message: '请选择账单日期' }]}>
            <DatePicker allowClear={false} data-testid="upload-date" />
          </Form.Item>
        </Space>
        <Form.Item label="文件" required>
          <div data-testid="upload-file">
            <Upload.Dragger
              maxCount={1}
              fileList={files}
              beforeUpload={() => false}
              onChange={(i) => setFiles(i.fileList.slice(-1))}
            >
              <p className="ant-upload-drag-icon">
                <InboxOutlined />
              </p>
              <p className="ant-upload-text">点击或拖入对账单文件（最大 40 MB）</p>
            </Upload.Dragger>
          </div>
        </Form.Item>
        {existing && (
          <Alert
            type={existing.status === 'IMPORTED' ? 'warning' : 'info'}
            showIcon
            style={{ marginBottom: 12 }}
            data-testid="upload-existing"
            message={`该日已有此对账单：${label(STATEMENT_STATUS, existing.status)}${
              existing.status === 'IMPORTED' ? `（${existing.lineCount} 笔），覆盖需勾选下方选项` : ''
            }${existing.errorMessage ? `：${existing.errorMessage}` : ''}`}
          />
        )}
        <Form.Item name="replace" valuePropName="checked" style={{ marginBottom: 0 }}>
          <Checkbox>覆盖已导入的对账单</Checkbox>
        </Form.Item>
      </Form>
    </Modal>
  );
}
