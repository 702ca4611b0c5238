import { SyncOutlined, UploadOutlined } from '@ant-design/icons';
import { Alert, Button, DatePicker, Form, Modal, Select, Space, Table, Tag, Typography, message } from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useState } from 'react';
import { api } from '../../api';
import type { ReconSummaryRow, RunRow } from '../../api-types';
import { useAuth } from '../../auth';
import { ListPage } from '../../components/ListPage';
import { tagOf } from '../../components/cells';
import { errorText, label, money, time } from '../../format';
import { hospitalColumn, useHospitals } from '../../hooks';
import { actorText, RECON_CHANNEL, RECON_KIND, RECON_OUTCOME, RECON_RUN_STATUS } from './labels';
import { StatementStatusCard, StatementTable, StatementUploadModal, useDayStatements } from './Statements';

const channelTags = (list: string[] | undefined) =>
  list?.length ? list.map((c) => <Tag key={c}>{label(RECON_CHANNEL, c)}</Tag>) : '-';

/** The per-channel figures of one run (每日汇总): each side's count and sum, matched and different. */
function RunSummary({ run }: { run: RunRow }) {
  const s = run.summary;
  const statements = useDayStatements(run.businessDate, run.hospitalId);
  return (
    <div data-testid="run-summary">
      {run.errorMessage && (
        <Alert type="error" showIcon message={run.errorMessage} style={{ marginBottom: 8 }} />
      )}
      <Table<ReconSummaryRow>
        size="small"
        pagination={false}
        rowKey={(r) => `${r.channel}|${r.kind}`}
        dataSource={s.rows ?? []}
        scroll={{ x: 'max-content' }}
        locale={{ emptyText: '当日无交易' }}
        columns={[
          { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
          { title: '类型', dataIndex: 'kind', render: tagOf(RECON_KIND) },
          { title: '渠道笔数', dataIndex: 'channelCount', align: 'right' },
          { title: '渠道金额', dataIndex: 'channelFen', align: 'right', render: money },
          { title: '手续费', dataIndex: 'channelFeeFen', align: 'right', render: money },
          { title: '平台笔数', dataIndex: 'platformCount', align: 'right' },
          { title: '平台金额', dataIndex: 'platformFen', align: 'right', render: money },
          { title: 'HIS 笔数', dataIndex: 'hisCount', align: 'right' },
          { title: 'HIS 金额', dataIndex: 'hisFen', align: 'right', render: money },
          { title: '平账', dataIndex: 'matched', align: 'right' },
          {
            title: '差异',
            dataIndex: 'differences',
            align: 'right',
            render: (n: number) => (n ? <Typography.Text type="danger">{n}</Typography.Text> : 0),
          },
          { title: '未核对', dataIndex: 'unverified', align: 'right' },
        ]}
      />
      {!!s.offline?.length && (
        <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
          HIS 线下收入：
          {s.offline.map((o) => (
            <span key={o.channel} style={{ marginRight: 16 }}>
              {label(RECON_CHANNEL, o.channel)} {o.paymentCount} 笔 {money(o.paymentFen)}
              {o.refundCount ? `，退 ${o.refundCount} 笔 ${money(o.refundFen)}` : ''}
            </span>
          ))}
        </Typography.Paragraph>
      )}
      {s.newDifferences && Object.keys(s.newDifferences).length > 0 && (
        <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
          本次新增差异：
          {Object.entries(s.newDifferences).map(([k, n]) => (
            <Tag key={k} color={RECON_OUTCOME[k]?.color}>
              {label(RECON_OUTCOME, k)} {n}
            </Tag>
          ))}
        </Typography.Paragraph>
      )}
      <Typography.Title level={5} style={{ marginTop: 12 }}>
        当日对账单
      </Typography.Title>
      <StatementTable items={statements.items} loading={statements.loading} />
    </div>
  );
}

/** Runs the engine again for a day (POST /recon/runs): fetches missing statements first. */
function RerunModal({ open, onClose }: { open: boolean; onClose(done: boolean): void }) {
  const hospitals = useHospitals();
  const [form] = Form.useForm<{ date: Dayjs; hospitalId?: string }>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async () => {
    const v = await form.validateFields();
    setBusy(true);
    setError(undefined);
    try {
      const r = await api<{ runs: { runId: string; newDifferences: Record<string, number> }[] }>(
        'POST',
        '/recon/runs',
        {
          body: { date: v.date.format('YYYY-MM-DD'), ...(v.hospitalId ? { hospitalId: v.hospitalId } : {}) },
        },
      );
      const found = r.runs.reduce(
        (a, x) => a + Object.values(x.newDifferences).reduce((b, n) => b + n, 0),
        0,
      );
      void message.success(`对账完成：${r.runs.length} 个批次，新增差异 ${found} 笔`);
      onClose(true);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Modal
      title="重新对账"
      open={open}
      onOk={() => void submit()}
      okText="开始对账"
      okButtonProps={{ loading: busy }}
      onCancel={() => onClose(false)}
      destroyOnHidden
    >
      <Typography.Paragraph type="secondary">
        先下载尚未获取的渠道对账单，再按业务日重新三方对账；已处理的差异保持不变。
      </Typography.Paragraph>
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 12 }} />}
      <Form form={form} layout="vertical" initialValues={{ date: dayjs().subtract(1, 'day') }}>
        <Form.Item name="date" label="业务日期" rules={[{ required: true, message: '请选择业务日期' }]}>
          <DatePicker style={{ width: '100%' }} data-testid="rerun-date" />
        </Form.Item>
        {hospitals.length > 1 && (
          <Form.Item name="hospitalId" label="医院">
            <Select
              allowClear
              placeholder="全部医院"
              options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
            />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}

/** 对账批次 / 每日汇总: every run of the engine with its per-channel summary; 重新对账 for recon.resolve. */
export default function ReconRunsPage() {
  const { can } = useAuth();
  const hospitals = useHospitals();
  const [rerun, setRerun] = useState(false);
  const [upload, setUpload] = useState(false);
  const [reload, setReload] = useState(0);
  const [statementDay, setStatementDay] = useState<{ date: Dayjs; hospitalId?: string }>(() => ({
    date: dayjs().subtract(1, 'day'),
  }));
  return (
    <>
      <ListPage<RunRow>
        title="对账批次 · 每日汇总"
        path="/recon/runs"
        testId="recon-runs"
        rowKey="id"
        reloadKey={reload}
        filters={[
          { name: 'date', label: '业务日期', type: 'date' },
          { name: 'hospitalId', label: '医院', type: 'hospital' },
        ]}
        extra={
          <Space>
            {can('recon.resolve') && (
              <Button icon={<SyncOutlined />} onClick={() => setRerun(true)} data-testid="btn-rerun">
                重新对账
              </Button>
            )}
            {can('recon.resolve') && (
              <Button
                icon={<UploadOutlined />}
                onClick={() => setUpload(true)}
                data-testid="btn-upload-statement"
              >
                上传对账单
              </Button>
            )}
          </Space>
        }
        expandable={{
          expandedRowRender: (r) => <RunSummary run={r} />,
          rowExpandable: (r) => r.status !== 'RUNNING',
        }}
        columns={[
          { title: '业务日期', dataIndex: 'businessDate', fixed: 'left' },
          ...hospitalColumn(hospitals),
          { title: '状态', dataIndex: 'status', render: tagOf(RECON_RUN_STATUS) },
          {
            title: '平台收入',
            key: 'platform',
            align: 'right',
            render: (_: unknown, r) =>
              r.summary.rows
                ? money(
                    r.summary.rows.reduce(
                      (a, x) => a + (x.kind === 'REFUND' ? -x.platformFen : x.platformFen),
                      0,
                    ),
                  )
                : '-',
          },
          {
            title: '已对渠道',
            key: 'compared',
            render: (_: unknown, r) => channelTags(r.summary.channelsCompared),
          },
          {
            title: '缺对账单',
            key: 'missing',
            render: (_: unknown, r) => channelTags(r.summary.channelsMissing),
          },
          {
            title: 'HIS 账',
            key: 'his',
            render: (_: unknown, r) =>
              r.summary.hisLedger === undefined ? '-' : r.summary.hisLedger ? '已收到' : <Tag>未收到</Tag>,
          },
          {
            title: '新增差异',
            key: 'new',
            align: 'right',
            render: (_: unknown, r) =>
              Object.values(r.summary.newDifferences ?? {}).reduce((a, n) => a + n, 0) || '-',
          },
          {
            title: '跨日匹配',
            key: 'cross',
            align: 'right',
            render: (_: unknown, r) => r.summary.resolvedCrossDay ?? '-',
          },
          { title: '触发', dataIndex: 'triggeredBy', render: actorText },
          { title: '开始时间', dataIndex: 'startedAt', render: time },
          { title: '完成时间', dataIndex: 'finishedAt', render: time },
        ]}
      />
      <StatementStatusCard
        date={statementDay.date}
        hospitalId={statementDay.hospitalId}
        reloadKey={reload}
        onChange={(date, hospitalId) => setStatementDay({ date, hospitalId })}
      />
      <RerunModal
        open={rerun}
        onClose={(done) => {
          setRerun(false);
          if (done) setReload((n) => n + 1);
        }}
      />
      <StatementUploadModal
        open={upload}
        onClose={(uploaded) => {
          setUpload(false);
          if (uploaded) {
            setStatementDay(uploaded);
            setReload((n) => n + 1);
          }
        }}
      />
    </>
  );
}
