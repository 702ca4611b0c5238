import { DollarOutlined, ReloadOutlined, RollbackOutlined } from '@ant-design/icons';
import {
  Alert,
  Button,
  Card,
  Descriptions,
  Empty,
  Space,
  Spin,
  Table,
  Tag,
  Timeline,
  Typography,
} from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { api } from '../api';
import { useAuth } from '../auth';
import {
  BILL_STATUS,
  CHANNEL,
  errorText,
  HIS_SYNC,
  label,
  money,
  ORDER_EVENT,
  ORDER_STATUS,
  PAYMENT_STATUS,
  PUSH_STATUS,
  REFUND_METHOD,
  REFUND_STATUS,
  SEVERITY,
  ALERT_KIND,
  ALERT_STATUS,
  time,
  TRADE_TYPE,
  type Labels,
} from '../format';
import { hospitalName, useHospitals } from '../hooks';
import { RefundModal } from './RefundModal';

interface Detail {
  order: {
    id: string;
    orderNo: string;
    hospitalId: string;
    status: string;
    amountFen: number;
    refundedFen: number;
    refundableFen: number;
    channel: string;
    tradeType: string;
    merchantAccountId: string;
    hisSyncStatus: string;
    oneSided: boolean;
    patientName: string | null;
    hisPatientId: string;
    expiresAt: string;
    paidAt: string | null;
    settledAt: string | null;
    closedAt: string | null;
    createdAt: string;
  };
  bills: {
    id: string;
    hisBillNo: string;
    title: string;
    department: string | null;
    amountFen: number;
    status: string;
  }[];
  events: {
    id: number;
    event: string;
    fromStatus: string | null;
    toStatus: string;
    actor: string;
    reason: string | null;
    createdAt: string;
  }[];
  payments: {
    id: string;
    channel: string;
    tradeType: string;
    outTradeNo: string;
    channelTradeNo: string | null;
    amountFen: number;
    status: string;
    paidAt: string | null;
    createdAt: string;
  }[];
  refunds: {
    id: string;
    refundNo: string;
    hisRefundNo: string | null;
    amountFen: number;
    status: string;
    method: string;
    reason: string;
    requestedBy: string;
    channelRefundId: string | null;
    errorMessage: string | null;
    succeededAt: string | null;
    createdAt: string;
  }[];
  hisPushes: {
    eventId: string;
    kind: string;
    status: string;
    attempts: number;
    lastError: string | null;
    ackedAt: string | null;
    createdAt: string;
  }[];
  alerts: {
    id: number;
    kind: string;
    severity: string;
    message: string;
    status: string;
    createdAt: string;
  }[];
  /** The insurance part (医保) of an order paid with insurance, else null. */
  insurance: {
    status: string;
    settleChannel: string;
    payOrdId: string | null;
    settlementId: string | null;
    split: { totalFen: number; fundFen: number; psnAcctFen: number; otherFen: number; cashFen: number };
    refunded: { fundFen: number; psnAcctFen: number; otherFen: number };
    settledAt: string | null;
    error: string | null;
    refunds: {
      id: string;
      refundNo: string;
      kind: string;
      status: string;
      repair: string | null;
      fundFen: number;
      psnAcctFen: number;
      otherFen: number;
      cashFen: number;
      reason: string;
      createdAt: string;
    }[];
  } | null;
}

const SETTLE_CHANNEL: Record<string, string> = { nhsa: '国家医保平台', wxmedins: '微信医保支付' };

const REFUNDABLE = ['PAID', 'SETTLED', 'PARTIALLY_REFUNDED'];
const tag = (labels: Labels, code: string) => <Tag color={labels[code]?.color}>{label(labels, code)}</Tag>;

const ACTOR: Record<string, string> = {
  system: '系统',
  patient: '患者',
  his: 'HIS',
  channel: '支付渠道',
  job: '后台任务',
  admin: '管理员',
};
const actorText = (a: string) => {
  const [kind, id] = a.split(':', 2);
  const k = ACTOR[kind ?? ''] ?? kind;
  return id ? `${k}（${id}）` : k;
};

/** Everything about one order: facts, bills, timeline, payments, refunds, HIS pushes, alerts; refund actions. */
export function OrderDetail({ id }: { id: string }) {
  const { can } = useAuth();
  const hospitals = useHospitals();
  const [d, setD] = useState<Detail>();
  const [error, setError] = useState<string>();
  const [modal, setModal] = useState<'channel' | 'cash'>();

  const load = useCallback(async () => {
    try {
      setD(await api<Detail>('GET', `/orders/${id}`));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  if (error) return <Alert type="error" showIcon message={error} />;
  if (!d) return <Spin style={{ display: 'block', margin: 48 }} />;
  const o = d.order;
  const refundable = REFUNDABLE.includes(o.status) && o.refundableFen > 0;

  return (
    <div data-testid="order-detail">
      <Space style={{ marginBottom: 16 }} wrap>
        {can('orders.refund') && (
          <Button
            danger
            type="primary"
            icon={<RollbackOutlined />}
            disabled={!refundable}
            onClick={() => setModal('channel')}
            data-testid="btn-refund"
          >
            退款
          </Button>
        )}
        {can('orders.cash_refund') && (
          <Button
            danger
            icon={<DollarOutlined />}
            disabled={!refundable}
            onClick={() => setModal('cash')}
            data-testid="btn-cash-refund"
          >
            现金退款
          </Button>
        )}
        <Button icon={<ReloadOutlined />} onClick={() => void load()}>
          刷新
        </Button>
      </Space>
      <Descriptions
        bordered
        size="small"
        column={{ xs: 1, sm: 1, md: 2, lg: 2, xl: 2, xxl: 3 }}
        style={{ marginBottom: 16 }}
      >
        <Descriptions.Item label="订单号">
          <Typography.Text copyable>{o.orderNo}</Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label="状态">
          <span data-testid="order-status">{tag(ORDER_STATUS, o.status)}</span>
          {o.oneSided && <Tag color="red">单边账</Tag>}
        </Descriptions.Item>
        <Descriptions.Item label="医院">{hospitalName(hospitals, o.hospitalId)}</Descriptions.Item>
        <Descriptions.Item label="患者">
          <span data-testid="order-patient">{o.patientName}</span>（{o.hisPatientId}）
        </Descriptions.Item>
        <Descriptions.Item label="订单金额">{money(o.amountFen)}</Descriptions.Item>
        <Descriptions.Item label="已退 / 可退">
          {money(o.refundedFen)} / <span data-testid="order-refundable">{money(o.refundableFen)}</span>
        </Descriptions.Item>
        <Descriptions.Item label="支付渠道">
          {tag(CHANNEL, o.channel)} {label(TRADE_TYPE, o.tradeType)}
        </Descriptions.Item>
        <Descriptions.Item label="商户号">{o.merchantAccountId}</Descriptions.Item>
        <Descriptions.Item label="HIS 同步">{tag(HIS_SYNC, o.hisSyncStatus)}</Descriptions.Item>
        <Descriptions.Item label="创建时间">{time(o.createdAt)}</Descriptions.Item>
        <Descriptions.Item label="支付时间">{time(o.paidAt)}</Descriptions.Item>
        <Descriptions.Item label="入账时间">{time(o.settledAt)}</Descriptions.Item>
      </Descriptions>

      <Card size="small" title="缴费账单" style={{ marginBottom: 16 }}>
        <Table
          size="small"
          rowKey="id"
          pagination={false}
          dataSource={d.bills}
          columns={[
            { title: 'HIS 账单号', dataIndex: 'hisBillNo' },
            { title: '项目', dataIndex: 'title' },
            { title: '科室', dataIndex: 'department', render: (v) => v ?? '-' },
            { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
            { title: '账单状态', dataIndex: 'status', render: (s: string) => tag(BILL_STATUS, s) },
          ]}
        />
      </Card>

      <Card size="small" title="事件时间线" style={{ marginBottom: 16 }} data-testid="order-timeline">
        {d.events.length ? (
          <Timeline
            items={d.events.map((e) => ({
              color: ORDER_EVENT[e.event]?.color ?? 'blue',
              children: (
                <div>
                  <b>{label(ORDER_EVENT, e.event)}</b>{' '}
                  <Typography.Text type="secondary">
                    {e.fromStatus ? `${label(ORDER_STATUS, e.fromStatus)} → ` : ''}
                    {label(ORDER_STATUS, e.toStatus)}
                  </Typography.Text>
                  <div style={{ fontSize: 12, color: '#6b7280' }}>
                    {time(e.createdAt)} · {actorText(e.actor)}
                    {e.reason ? ` · ${e.reason}` : ''}
                  </div>
                </div>
              ),
            }))}
          />
        ) : (
          <Empty />
        )}
      </Card>

      {d.insurance && (
        <Card size="small" title="医保结算" style={{ marginBottom: 16 }} data-testid="order-insurance">
          <Descriptions size="small" column={3}>
            <Descriptions.Item label="结算方">
              {SETTLE_CHANNEL[d.insurance.settleChannel] ?? d.insurance.settleChannel}
            </Descriptions.Item>
            <Descriptions.Item label="结算状态">{d.insurance.status}</Descriptions.Item>
            <Descriptions.Item label="医保支付订单号">{d.insurance.payOrdId ?? '-'}</Descriptions.Item>
            <Descriptions.Item label="统筹基金">{money(d.insurance.split.fundFen)}</Descriptions.Item>
            <Descriptions.Item label="个人账户">{money(d.insurance.split.psnAcctFen)}</Descriptions.Item>
            <Descriptions.Item label="其他基金">{money(d.insurance.split.otherFen)}</Descriptions.Item>
            <Descriptions.Item label="个人现金">{money(d.insurance.split.cashFen)}</Descriptions.Item>
            <Descriptions.Item label="医保已退">
              {money(
                d.insurance.refunded.fundFen +
                  d.insurance.refunded.psnAcctFen +
                  d.insurance.refunded.otherFen,
              )}
            </Descriptions.Item>
            <Descriptions.Item label="结算号">{d.insurance.settlementId ?? '-'}</Descriptions.Item>
          </Descriptions>
          {d.insurance.error && <div style={{ color: '#cf1322' }}>{d.insurance.error}</div>}
          {d.insurance.refunds.length > 0 && (
            <Table
              size="small"
              rowKey="id"
              pagination={false}
              dataSource={d.insurance.refunds}
              columns={[
                { title: '医保退款号', dataIndex: 'refundNo' },
                {
                  title: '类型',
                  dataIndex: 'kind',
                  render: (k: string, r) => (r.repair ? `${k}（自动冲正）` : k),
                },
                {
                  title: '医保金额',
                  align: 'right',
                  render: (_: unknown, r) => money(r.fundFen + r.psnAcctFen + r.otherFen),
                },
                { title: '现金', dataIndex: 'cashFen', align: 'right', render: money },
                { title: '状态', dataIndex: 'status' },
                { title: '原因', dataIndex: 'reason' },
                { title: '时间', dataIndex: 'createdAt', render: time },
              ]}
            />
          )}
        </Card>
      )}

      <Card size="small" title="支付记录" style={{ marginBottom: 16 }}>
        <Table
          size="small"
          rowKey="id"
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={d.payments}
          columns={[
            { title: '商户订单号', dataIndex: 'outTradeNo' },
            { title: '渠道交易号', dataIndex: 'channelTradeNo', render: (v) => v ?? '-' },
            { title: '渠道', dataIndex: 'channel', render: (c: string) => tag(CHANNEL, c) },
            { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
            { title: '状态', dataIndex: 'status', render: (s: string) => tag(PAYMENT_STATUS, s) },
            { title: '支付时间', dataIndex: 'paidAt', render: time },
          ]}
        />
      </Card>

      <Card size="small" title="退款记录" style={{ marginBottom: 16 }} data-testid="order-refunds">
        <Table
          size="small"
          rowKey="id"
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={d.refunds}
          locale={{ emptyText: '无退款' }}
          columns={[
            { title: '退款单号', dataIndex: 'refundNo' },
            { title: '方式', dataIndex: 'method', render: (m: string) => tag(REFUND_METHOD, m) },
            { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
            { title: '状态', dataIndex: 'status', render: (s: string) => tag(REFUND_STATUS, s) },
            { title: '原因', dataIndex: 'reason' },
            { title: '发起', dataIndex: 'requestedBy', render: actorText },
            { title: '渠道退款号 / 收据', dataIndex: 'channelRefundId', render: (v) => v ?? '-' },
            { title: '完成时间', dataIndex: 'succeededAt', render: time },
          ]}
        />
      </Card>

      <Card size="small" title="HIS 推送" style={{ marginBottom: 16 }}>
        <Table
          size="small"
          rowKey="eventId"
          pagination={false}
          scroll={{ x: 'max-content' }}
          dataSource={d.hisPushes}
          locale={{ emptyText: '无推送' }}
          columns={[
            {
              title: '类型',
              dataIndex: 'kind',
              render: (k: string) => (k === 'refund' ? '退款结果' : '支付结果'),
            },
            { title: '状态', dataIndex: 'status', render: (s: string) => tag(PUSH_STATUS, s) },
            { title: '尝试次数', dataIndex: 'attempts', align: 'right' },
            { title: '最后错误', dataIndex: 'lastError', render: (v) => v ?? '-' },
            { title: 'HIS 确认时间', dataIndex: 'ackedAt', render: time },
            { title: '创建时间', dataIndex: 'createdAt', render: time },
          ]}
        />
      </Card>

      {d.alerts.length > 0 && (
        <Card size="small" title="相关告警">
          <Table
            size="small"
            rowKey="id"
            pagination={false}
            dataSource={d.alerts}
            columns={[
              { title: '级别', dataIndex: 'severity', render: (s: string) => tag(SEVERITY, s) },
              { title: '类型', dataIndex: 'kind', render: (k: string) => label(ALERT_KIND, k) },
              { title: '内容', dataIndex: 'message' },
              { title: '状态', dataIndex: 'status', render: (s: string) => tag(ALERT_STATUS, s) },
              { title: '时间', dataIndex: 'createdAt', render: time },
            ]}
          />
        </Card>
      )}

      {modal && (
        <RefundModal
          kind={modal}
          order={o}
          open
          onClose={(done) => {
            setModal(undefined);
            if (done) {
              void load();
              // A channel refund usually completes within seconds: look again.
              setTimeout(() => void load(), 2500);
            }
          }}
        />
      )}
    </div>
  );
}
