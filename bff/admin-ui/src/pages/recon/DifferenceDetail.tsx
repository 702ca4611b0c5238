import { CheckOutlined, ReloadOutlined, RollbackOutlined } from '@ant-design/icons';
import {
  Alert,
  Button,
  Card,
  Col,
  Descriptions,
  Empty,
  Form,
  Input,
  Modal,
  Row,
  Space,
  Spin,
  Tag,
  Timeline,
  Typography,
  message,
} from 'antd';
import { useCallback, useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../../api';
import type { ItemDetail } from '../../api-types';
import { useAuth } from '../../auth';
import { tagOf } from '../../components/cells';
import {
  errorText,
  HIS_SYNC,
  label,
  money,
  ORDER_EVENT,
  ORDER_STATUS,
  PAYMENT_STATUS,
  REFUND_STATUS,
  time,
} from '../../format';
import {
  actorText,
  RECON_CHANNEL,
  RECON_ITEM_STATUS,
  RECON_KIND,
  RECON_OUTCOME,
  RECON_RESOLUTION,
} from './labels';

/** Differences whose payment can be refunded from here (the HIS never recorded it; service.ts). */
const REFUNDABLE = ['his_missing', 'platform_only', 'status_mismatch'];

const none = (text: string) => <Empty image={Empty.PRESENTED_IMAGE_SIMPLE} description={text} />;

/**
 * One difference side by side — the channel's statement lines, our order with its events, the HIS ledger's
 * records — with 退款 (orders.refund) and 标记已处理 (recon.resolve, a reason required); both audited.
 */
export function DifferenceDetail({ id, onChanged }: { id: number; onChanged(): void }) {
  const { can } = useAuth();
  const [d, setD] = useState<ItemDetail>();
  const [error, setError] = useState<string>();
  const [action, setAction] = useState<'resolve' | 'refund'>();
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState<string>();
  const [form] = Form.useForm<{ reason: string }>();

  const load = useCallback(async () => {
    try {
      setD(await api<ItemDetail>('GET', `/recon/items/${id}`));
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, [id]);
  useEffect(() => {
    void load();
  }, [load]);

  const submit = async () => {
    const { reason } = await form.validateFields();
    setBusy(true);
    setActionError(undefined);
    try {
      if (action === 'refund') {
        const r = await api<{ refundNo: string; amountFen: number }>('POST', `/recon/items/${id}/refund`, {
          body: { reason: reason.trim() },
        });
        void message.success(`退款已提交：${r.refundNo}，${money(r.amountFen)}`);
      } else {
        await api('POST', `/recon/items/${id}/resolve`, { body: { reason: reason.trim() } });
        void message.success('差异已标记为已处理');
      }
      setAction(undefined);
      form.resetFields();
      await load();
      onChanged();
    } catch (e) {
      setActionError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  if (error) return <Alert type="error" showIcon message={error} />;
  if (!d) return <Spin style={{ display: 'block', margin: 48 }} />;
  const it = d.item;
  const open = it.status !== 'RESOLVED';
  const refundable = open && it.kind === 'PAYMENT' && !!it.orderNo && REFUNDABLE.includes(it.outcome);
  const o = d.platform;

  return (
    <div data-testid="recon-detail">
      <Space style={{ marginBottom: 16 }} wrap>
        {can('recon.resolve') && open && (
          <Button
            type="primary"
            icon={<CheckOutlined />}
            onClick={() => (setActionError(undefined), setAction('resolve'))}
            data-testid="btn-recon-resolve"
          >
            标记已处理
          </Button>
        )}
        {can('orders.refund') && refundable && (
          <Button
            danger
            icon={<RollbackOutlined />}
            onClick={() => (setActionError(undefined), setAction('refund'))}
            data-testid="btn-recon-refund"
          >
            退款
          </Button>
        )}
        <Button icon={<ReloadOutlined />} onClick={() => void load()}>
          刷新
        </Button>
      </Space>

      <Descriptions bordered size="small" column={{ xs: 1, md: 2, xl: 4 }} style={{ marginBottom: 16 }}>
        <Descriptions.Item label="业务日期">{it.businessDate}</Descriptions.Item>
        <Descriptions.Item label="渠道">{tagOf(RECON_CHANNEL)(it.channel)}</Descriptions.Item>
        <Descriptions.Item label="类型">{tagOf(RECON_KIND)(it.kind)}</Descriptions.Item>
        <Descriptions.Item label="差异类型">{tagOf(RECON_OUTCOME)(it.outcome)}</Descriptions.Item>
        <Descriptions.Item label="支付/退款单号">
          <Typography.Text copyable>{it.keyNo}</Typography.Text>
        </Descriptions.Item>
        <Descriptions.Item label="状态">
          <span data-testid="recon-status">{tagOf(RECON_ITEM_STATUS)(it.status)}</span>
          {it.status === 'HOLDING' && it.holdUntil ? ` 挂账至 ${it.holdUntil}` : ''}
        </Descriptions.Item>
        <Descriptions.Item label="渠道 / 平台 / HIS 金额" span={2}>
          {money(it.channelFen)} / {money(it.platformFen)} / {money(it.hisFen)}
        </Descriptions.Item>
        {(it.channelFeeFen !== null || it.expectedFeeFen !== null) && (
          <Descriptions.Item label="手续费（渠道 / 约定）" span={2}>
            {money(it.channelFeeFen)} / {money(it.expectedFeeFen)}
          </Descriptions.Item>
        )}
        {it.resolution && (
          <>
            <Descriptions.Item label="处理方式">{label(RECON_RESOLUTION, it.resolution)}</Descriptions.Item>
            <Descriptions.Item label="处理人">{actorText(it.resolvedBy)}</Descriptions.Item>
            <Descriptions.Item label="处理时间">{time(it.resolvedAt)}</Descriptions.Item>
            <Descriptions.Item label="说明">
              <span data-testid="recon-note">{it.note ?? '-'}</span>
            </Descriptions.Item>
          </>
        )}
      </Descriptions>

      <Row gutter={16}>
        <Col xs={24} xl={8}>
          <Card size="small" title="渠道对账单" data-testid="recon-channel" style={{ marginBottom: 16 }}>
            {d.channel.length
              ? d.channel.map((l, i) => (
                  <Descriptions key={i} size="small" column={1} bordered style={{ marginBottom: 8 }}>
                    <Descriptions.Item label="账单日">{l.billDate}</Descriptions.Item>
                    <Descriptions.Item label="商户订单号">{l.orderNo}</Descriptions.Item>
                    {l.refundNo && <Descriptions.Item label="退款单号">{l.refundNo}</Descriptions.Item>}
                    <Descriptions.Item label="渠道交易号">
                      {l.channelRefundId ?? l.channelTradeNo ?? '-'}
                    </Descriptions.Item>
                    <Descriptions.Item label="金额">{money(l.amountFen)}</Descriptions.Item>
                    <Descriptions.Item label="手续费">{money(l.feeFen)}</Descriptions.Item>
                    <Descriptions.Item label="交易时间">{time(l.occurredAt)}</Descriptions.Item>
                  </Descriptions>
                ))
              : none('渠道对账单无此记录')}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card
            size="small"
            title="平台订单"
            data-testid="recon-platform"
            style={{ marginBottom: 16 }}
            extra={o && <Link to={`/orders/${o.order.id}`}>订单详情</Link>}
          >
            {o ? (
              <>
                <Descriptions size="small" column={1} bordered style={{ marginBottom: 12 }}>
                  <Descriptions.Item label="订单号">{o.order.orderNo}</Descriptions.Item>
                  <Descriptions.Item label="状态">{tagOf(ORDER_STATUS)(o.order.status)}</Descriptions.Item>
                  <Descriptions.Item label="金额 / 已退">
                    {money(o.order.amountFen)} / {money(o.order.refundedFen)}
                  </Descriptions.Item>
                  <Descriptions.Item label="HIS 同步">
                    {tagOf(HIS_SYNC)(o.order.hisSyncStatus)}
                  </Descriptions.Item>
                  <Descriptions.Item label="支付时间">{time(o.order.paidAt)}</Descriptions.Item>
                </Descriptions>
                {o.payments.map((p) => (
                  <div key={p.id} style={{ fontSize: 12, marginBottom: 4 }}>
                    支付 {p.outTradeNo} {money(p.amountFen)} <Tag>{label(PAYMENT_STATUS, p.status)}</Tag>
                  </div>
                ))}
                {o.refunds.map((r) => (
                  <div key={r.id} style={{ fontSize: 12, marginBottom: 4 }}>
                    退款 {r.refundNo} {money(r.amountFen)} <Tag>{label(REFUND_STATUS, r.status)}</Tag>
                  </div>
                ))}
                <div data-testid="recon-order-events" style={{ marginTop: 12 }}>
                  {o.events.length ? (
                    <Timeline
                      items={o.events.map((e) => ({
                        color: ORDER_EVENT[e.event]?.color ?? 'blue',
                        children: (
                          <div style={{ fontSize: 12 }}>
                            <b>{label(ORDER_EVENT, e.event)}</b> → {label(ORDER_STATUS, e.toStatus)}
                            <div style={{ color: '#6b7280' }}>
                              {time(e.createdAt)} · {actorText(e.actor)}
                              {e.reason ? ` · ${e.reason}` : ''}
                            </div>
                          </div>
                        ),
                      }))}
                    />
                  ) : (
                    none('无订单事件')
                  )}
                </div>
              </>
            ) : (
              none('平台无此订单')
            )}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card size="small" title="HIS 账" data-testid="recon-his" style={{ marginBottom: 16 }}>
            {d.his.length
              ? d.his.map((l) => (
                  <Descriptions
                    key={`${l.ledgerDate}|${l.hisTradeNo}`}
                    size="small"
                    column={1}
                    bordered
                    style={{ marginBottom: 8 }}
                  >
                    <Descriptions.Item label="账日">{l.ledgerDate}</Descriptions.Item>
                    <Descriptions.Item label="HIS 流水号">{l.hisTradeNo}</Descriptions.Item>
                    <Descriptions.Item label="渠道">{label(RECON_CHANNEL, l.channel)}</Descriptions.Item>
                    {l.refundNo && <Descriptions.Item label="退款单号">{l.refundNo}</Descriptions.Item>}
                    {l.terminalRef && (
                      <Descriptions.Item label="终端参考号">{l.terminalRef}</Descriptions.Item>
                    )}
                    <Descriptions.Item label="金额">{money(l.amountFen)}</Descriptions.Item>
                    <Descriptions.Item label="记账时间">{time(l.occurredAt)}</Descriptions.Item>
                  </Descriptions>
                ))
              : none('HIS 账无此记录')}
          </Card>
        </Col>
      </Row>

      <Modal
        title={action === 'refund' ? '退款（原路退回，HIS 未入账的支付）' : '标记差异为已处理'}
        open={!!action}
        onOk={() => void submit()}
        okText={action === 'refund' ? '确认退款' : '标记已处理'}
        okButtonProps={{ loading: busy, danger: action === 'refund' }}
        onCancel={() => setAction(undefined)}
        destroyOnHidden
      >
        <Typography.Paragraph type="secondary">
          {action === 'refund'
            ? `将 ${it.orderNo} 尚可退的金额原路退回患者，并把此差异记为“已退款”。`
            : '请写明核实结果或调账方式；处理人、时间和说明记入审计日志。'}
        </Typography.Paragraph>
        {actionError && <Alert type="error" showIcon message={actionError} style={{ marginBottom: 12 }} />}
        <Form form={form} layout="vertical">
          <Form.Item
            name="reason"
            label={action === 'refund' ? '退款原因' : '处理说明'}
            rules={[
              { required: true, whitespace: true, min: 2, max: 500, message: '请填写原因（2–500 字）' },
            ]}
          >
            <Input.TextArea rows={3} maxLength={500} showCount data-testid="recon-reason" />
          </Form.Item>
        </Form>
      </Modal>
    </div>
  );
}
