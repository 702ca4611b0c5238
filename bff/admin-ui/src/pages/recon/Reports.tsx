import { FileExcelOutlined, FileTextOutlined, ReloadOutlined } from '@ant-design/icons';
import {
  Alert,
  Button,
  Card,
  Col,
  DatePicker,
  Row,
  Select,
  Space,
  Statistic,
  Table,
  Tag,
  Typography,
  message,
} from 'antd';
import dayjs, { type Dayjs } from 'dayjs';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useSearchParams } from 'react-router-dom';
import { fenToYuan } from '../../../../../shared/src/money';
import { api, download, type Page } from '../../api';
import type { AbnormalRefund, DailyReport, PeriodReport } from '../../api-types';
import { useAuth } from '../../auth';
import { Chart, type ChartOption } from '../../components/Chart';
import { orderLink, tagOf } from '../../components/cells';
import { errorText, label, money, time } from '../../format';
import { useHospitals } from '../../hooks';
import { ABNORMAL_REFUND_STATUS, RECON_CHANNEL } from './labels';

type PeriodDay = PeriodReport['days'][number];

const DAY = 'YYYY-MM-DD';
const yuanNumber = (fen: number) => Number(fenToYuan(fen));
const parseDay = (s: string | null) => (s && dayjs(s, DAY, true).isValid() ? dayjs(s, DAY) : undefined);

function periodChart(p: PeriodReport): ChartOption {
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => `¥${Number(v).toFixed(2)}` },
    legend: { top: 0 },
    grid: { left: 64, right: 56, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: p.days.map((d) => d.date.slice(5)) },
    yAxis: [
      { type: 'value', name: '元' },
      { type: 'value', name: '差额', splitLine: { show: false } },
    ],
    series: [
      { name: '平台收入', type: 'bar', data: p.days.map((d) => yuanNumber(d.platformIncomeFen)) },
      { name: 'HIS 收入', type: 'bar', data: p.days.map((d) => yuanNumber(d.hisIncomeFen)) },
      {
        name: '差额（HIS−平台）',
        type: 'line',
        yAxisIndex: 1,
        data: p.days.map((d) => yuanNumber(d.differenceFen)),
      },
    ],
  };
}

/** 对账报表: the daily report finance signs, the period summary with its chart, abnormal refunds, exports. */
export default function ReconReportsPage() {
  const { can } = useAuth();
  const hospitals = useHospitals();
  const [params, setParams] = useSearchParams();
  const [range, setRange] = useState<[Dayjs, Dayjs]>(() => {
    const to = parseDay(params.get('to')) ?? dayjs().subtract(1, 'day');
    return [parseDay(params.get('from')) ?? to.subtract(6, 'day'), to];
  });
  const [date, setDate] = useState<Dayjs>(() => parseDay(params.get('date')) ?? range[1]);
  const [hospitalId, setHospitalId] = useState<string | undefined>(params.get('hospitalId') ?? undefined);
  const [daily, setDaily] = useState<DailyReport>();
  const [period, setPeriod] = useState<PeriodReport>();
  const [abnormal, setAbnormal] = useState<Page<AbnormalRefund> & { totalFen: number }>();
  const [abnormalPage, setAbnormalPage] = useState(1);
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [exporting, setExporting] = useState<string>();

  const from = range[0].format(DAY);
  const to = range[1].format(DAY);
  const day = date.format(DAY);

  const load = useCallback(async () => {
    setLoading(true);
    try {
      const [d, p] = await Promise.all([
        api<DailyReport>('GET', '/recon/reports/daily', { query: { date: day, hospitalId } }),
        api<PeriodReport>('GET', '/recon/reports/period', { query: { from, to, hospitalId } }),
      ]);
      setDaily(d);
      setPeriod(p);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, [day, from, to, hospitalId]);
  useEffect(() => {
    void load();
    setParams({ from, to, date: day, ...(hospitalId ? { hospitalId } : {}) }, { replace: true });
  }, [load]);
  useEffect(() => {
    api<Page<AbnormalRefund> & { totalFen: number }>('GET', '/recon/reports/abnormal-refunds', {
      query: { from, to, hospitalId, page: abnormalPage, pageSize: 10 },
    }).then(setAbnormal, (e) => setError(errorText(e)));
  }, [from, to, hospitalId, abnormalPage]);

  const chart = useMemo(() => period && periodChart(period), [period]);

  const exportFile = async (kind: 'daily' | 'period', format: 'xlsx' | 'csv') => {
    setExporting(`${kind}-${format}`);
    try {
      const query = kind === 'daily' ? { date: day, hospitalId, format } : { from, to, hospitalId, format };
      void message.success(`已导出：${await download(`/recon/exports/${kind}`, query)}`);
    } catch (e) {
      void message.error(errorText(e));
    } finally {
      setExporting(undefined);
    }
  };
  const exportButton = (kind: 'daily' | 'period', format: 'xlsx' | 'csv', text: string) => (
    <Button
      icon={format === 'xlsx' ? <FileExcelOutlined /> : <FileTextOutlined />}
      loading={exporting === `${kind}-${format}`}
      onClick={() => void exportFile(kind, format)}
      data-testid={`btn-export-${kind}-${format}`}
    >
      {text}
    </Button>
  );

  const t = daily?.totals;
  return (
    <div data-testid="recon-reports">
      <Space style={{ width: '100%', justifyContent: 'space-between', marginBottom: 16 }} wrap>
        <h2 className="hp-page-title" style={{ margin: 0 }}>
          对账报表
          {daily && (
            <Typography.Text type="secondary" style={{ fontSize: 13, fontWeight: 400, marginLeft: 8 }}>
              {daily.hospital.name}
            </Typography.Text>
          )}
        </h2>
        <Space wrap>
          {hospitals.length > 1 && (
            <Select
              placeholder="医院"
              style={{ width: 200 }}
              value={hospitalId ?? daily?.hospital.id}
              onChange={setHospitalId}
              options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
            />
          )}
          <DatePicker.RangePicker
            value={range}
            allowClear={false}
            onChange={(v) => v?.[0] && v[1] && setRange([v[0], v[1]])}
            data-testid="report-range"
          />
          <Button icon={<ReloadOutlined />} onClick={() => void load()} loading={loading}>
            刷新
          </Button>
          {can('recon.export') && exportButton('period', 'xlsx', '导出 Excel')}
          {can('recon.export') && exportButton('period', 'csv', '导出 CSV')}
        </Space>
      </Space>
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} />}

      <Card
        size="small"
        style={{ marginBottom: 16 }}
        data-testid="daily-report"
        title={
          <Space>
            对账日报
            <DatePicker
              value={date}
              allowClear={false}
              onChange={(v) => v && setDate(v)}
              data-testid="daily-date"
            />
            {daily &&
              (daily.run ? (
                <Typography.Text type="secondary" style={{ fontWeight: 400 }}>
                  对账完成于 {time(daily.run.finishedAt)}
                </Typography.Text>
              ) : (
                <Tag color="warning">当日尚未对账</Tag>
              ))}
          </Space>
        }
        extra={
          can('recon.export') && (
            <Space>
              {exportButton('daily', 'xlsx', '导出日报 Excel')}
              {exportButton('daily', 'csv', 'CSV')}
            </Space>
          )
        }
      >
        <Row gutter={[16, 16]} style={{ marginBottom: 16 }}>
          <Col xs={12} md={8} xl={4} data-testid="daily-his-income">
            <Statistic title="HIS 收入（含线下）" value={t ? money(t.hisIncomeFen) : '-'} />
          </Col>
          <Col xs={12} md={8} xl={4} data-testid="daily-platform-income">
            <Statistic title="平台收入" value={t ? money(t.platformIncomeFen) : '-'} />
          </Col>
          <Col xs={12} md={8} xl={4} data-testid="daily-difference">
            <Statistic
              title="当日差额（HIS−平台，线上）"
              value={t ? money(t.dailyDifferenceFen) : '-'}
              valueStyle={t?.dailyDifferenceFen ? { color: '#cf1322' } : undefined}
            />
          </Col>
          <Col xs={12} md={8} xl={4} data-testid="daily-abnormal-refunds">
            <Statistic
              title={`异常退款（${daily?.abnormalRefunds.count ?? 0} 笔）`}
              value={daily ? money(daily.abnormalRefunds.amountFen) : '-'}
              valueStyle={daily?.abnormalRefunds.count ? { color: '#cf1322' } : undefined}
            />
          </Col>
          <Col xs={12} md={8} xl={4} data-testid="daily-bank-expected">
            <Statistic title="预计到账（渠道−手续费）" value={t ? money(t.bankArrivalFen) : '-'} />
          </Col>
          <Col xs={12} md={8} xl={4} data-testid="daily-bank-arrival">
            <Statistic
              title="银行到账（资金账单）"
              value={t ? (t.bankSettledFen === null ? '未获取' : money(t.bankSettledFen)) : '-'}
            />
          </Col>
        </Row>
        <Table
          size="small"
          rowKey="channel"
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={daily?.channels ?? []}
          locale={{ emptyText: '当日无对账数据' }}
          columns={[
            { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
            { title: '支付笔数', dataIndex: 'paymentCount', align: 'right' },
            { title: '退款笔数', dataIndex: 'refundCount', align: 'right' },
            { title: 'HIS 收入', dataIndex: 'hisIncomeFen', align: 'right', render: money },
            { title: '平台收入', dataIndex: 'platformIncomeFen', align: 'right', render: money },
            { title: '渠道收入', dataIndex: 'channelIncomeFen', align: 'right', render: money },
            { title: '当日差额', dataIndex: 'differenceFen', align: 'right', render: money },
            { title: '手续费', dataIndex: 'feeFen', align: 'right', render: money },
            { title: '异常退款', dataIndex: 'abnormalRefundFen', align: 'right', render: money },
            { title: '预计到账', dataIndex: 'bankArrivalFen', align: 'right', render: money },
            {
              title: '银行到账',
              dataIndex: 'bankSettledFen',
              align: 'right',
              render: (v: number | null) => (v === null ? <Tag>未获取</Tag> : money(v)),
            },
            { title: '差异笔数', dataIndex: 'differences', align: 'right' },
          ]}
        />
        {!!daily?.offline.length && (
          <Typography.Paragraph type="secondary" style={{ marginTop: 8, marginBottom: 0 }}>
            HIS 线下收入：
            {daily.offline.map((o) => (
              <span key={o.channel} style={{ marginRight: 16 }}>
                {label(RECON_CHANNEL, o.channel)} {money(o.paymentFen - o.refundFen)}
              </span>
            ))}
          </Typography.Paragraph>
        )}
      </Card>

      <Card
        size="small"
        title={`期间汇总 ${from} 至 ${to}`}
        style={{ marginBottom: 16 }}
        data-testid="period-report"
      >
        {!!period?.missingDays.length && (
          <Alert
            type="warning"
            showIcon
            style={{ marginBottom: 12 }}
            message={`未对账的日期：${period.missingDays.join('、')}`}
          />
        )}
        {chart && <Chart option={chart} height={280} />}
        <Table<PeriodDay>
          size="small"
          rowKey="date"
          style={{ marginTop: 12 }}
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={period?.days ?? []}
          expandable={{
            rowExpandable: (d) => !!period?.rows.some((r) => r.date === d.date),
            expandedRowRender: (d) => (
              <Table
                size="small"
                rowKey="channel"
                pagination={false}
                dataSource={period?.rows.filter((r) => r.date === d.date)}
                columns={[
                  { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
                  { title: '平台收入', dataIndex: 'platformIncomeFen', align: 'right', render: money },
                  { title: 'HIS 收入', dataIndex: 'hisIncomeFen', align: 'right', render: money },
                  { title: '渠道收入', dataIndex: 'channelIncomeFen', align: 'right', render: money },
                  { title: '手续费', dataIndex: 'feeFen', align: 'right', render: money },
                  { title: '差额', dataIndex: 'differenceFen', align: 'right', render: money },
                  { title: '差异', dataIndex: 'differences', align: 'right' },
                ]}
              />
            ),
          }}
          summary={() =>
            period && (
              <Table.Summary.Row style={{ fontWeight: 600 }}>
                <Table.Summary.Cell index={0} />
                <Table.Summary.Cell index={1}>合计</Table.Summary.Cell>
                {(
                  [
                    'platformIncomeFen',
                    'hisIncomeFen',
                    'channelIncomeFen',
                    'refundFen',
                    'feeFen',
                    'differenceFen',
                    'bankArrivalFen',
                  ] as const
                ).map((k, i) => (
                  <Table.Summary.Cell key={k} index={i + 2} align="right">
                    <span data-testid={`period-total-${k}`}>{money(period.totals[k])}</span>
                  </Table.Summary.Cell>
                ))}
                <Table.Summary.Cell index={9} align="right">
                  {period.totals.differences}
                </Table.Summary.Cell>
                <Table.Summary.Cell index={10} align="right">
                  {period.totals.openDifferences}
                </Table.Summary.Cell>
              </Table.Summary.Row>
            )
          }
          columns={[
            {
              title: '日期',
              dataIndex: 'date',
              render: (d: string, r) =>
                r.runId ? (
                  d
                ) : (
                  <span>
                    {d} <Tag>未对账</Tag>
                  </span>
                ),
            },
            { title: '平台收入', dataIndex: 'platformIncomeFen', align: 'right', render: money },
            { title: 'HIS 收入（线上）', dataIndex: 'hisIncomeFen', align: 'right', render: money },
            { title: '渠道收入', dataIndex: 'channelIncomeFen', align: 'right', render: money },
            { title: '退款', dataIndex: 'refundFen', align: 'right', render: money },
            { title: '手续费', dataIndex: 'feeFen', align: 'right', render: money },
            { title: '差额', dataIndex: 'differenceFen', align: 'right', render: money },
            { title: '预计到账', dataIndex: 'bankArrivalFen', align: 'right', render: money },
            { title: '差异', dataIndex: 'differences', align: 'right' },
            { title: '未处理', dataIndex: 'openDifferences', align: 'right' },
          ]}
        />
      </Card>

      <Card
        size="small"
        data-testid="abnormal-refunds"
        title={`异常退款 ${abnormal ? `（${abnormal.total} 笔，${money(abnormal.totalFen)}）` : ''}`}
      >
        <Table<AbnormalRefund>
          size="small"
          rowKey="id"
          scroll={{ x: 'max-content' }}
          dataSource={abnormal?.items ?? []}
          locale={{ emptyText: '无异常退款' }}
          pagination={{
            current: abnormalPage,
            pageSize: 10,
            total: abnormal?.total ?? 0,
            onChange: setAbnormalPage,
            showTotal: (n) => `共 ${n} 条`,
          }}
          columns={[
            { title: '申请时间', dataIndex: 'createdAt', render: time },
            { title: '退款单号', dataIndex: 'refundNo' },
            { title: '订单号', dataIndex: 'orderNo', render: (no: string, r) => orderLink(r.orderId, no) },
            { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
            { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
            { title: '状态', dataIndex: 'status', render: tagOf(ABNORMAL_REFUND_STATUS) },
            { title: '原因', dataIndex: 'reason' },
            {
              title: '错误',
              dataIndex: 'errorMessage',
              render: (m: string | null, r) => (m ? `${r.errorCode ?? ''} ${m}` : '-'),
            },
          ]}
        />
      </Card>
    </div>
  );
}
