import { Button, Drawer, Space, Tag, Typography } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useState } from 'react';
import { Link } from 'react-router-dom';
import { ListPage } from '../components/ListPage';
import { OrderDetail } from '../components/OrderDetail';
import { CHANNEL, HIS_SYNC, label, money, options, ORDER_STATUS, time, TRADE_TYPE } from '../format';
import { hospitalColumn, useHospitals } from '../hooks';

interface OrderRow {
  id: string;
  orderNo: string;
  hospitalId: string;
  status: string;
  amountFen: number;
  refundedFen: number;
  channel: string;
  tradeType: string;
  hisSyncStatus: string;
  oneSided: boolean;
  paidAt: string | null;
  createdAt: string;
  patientName: string | null;
  hisPatientId: string;
}

export default function OrdersPage() {
  const hospitals = useHospitals();
  const [open, setOpen] = useState<OrderRow>();
  const [reload, setReload] = useState(0);

  const columns: ColumnsType<OrderRow> = [
    {
      title: '订单号',
      dataIndex: 'orderNo',
      fixed: 'left',
      render: (no: string, r) => (
        <Typography.Link onClick={() => setOpen(r)} data-testid="order-no">
          {no}
        </Typography.Link>
      ),
    },
    {
      title: '患者',
      dataIndex: 'patientName',
      render: (n: string | null, r) => (
        <span>
          <span data-testid="patient-name">{n ?? '-'}</span>
          <Typography.Text type="secondary" style={{ marginLeft: 6 }}>
            {r.hisPatientId}
          </Typography.Text>
        </span>
      ),
    },
    { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
    { title: '已退', dataIndex: 'refundedFen', align: 'right', render: (v: number) => (v ? money(v) : '-') },
    {
      title: '渠道',
      dataIndex: 'channel',
      render: (c: string, r) => (
        <span>
          <Tag color={CHANNEL[c]?.color}>{label(CHANNEL, c)}</Tag>
          <Typography.Text type="secondary">{label(TRADE_TYPE, r.tradeType)}</Typography.Text>
        </span>
      ),
    },
    {
      title: '状态',
      dataIndex: 'status',
      render: (s: string, r) => (
        <Space size={4}>
          <Tag color={ORDER_STATUS[s]?.color}>{label(ORDER_STATUS, s)}</Tag>
          {r.oneSided && <Tag color="red">单边账</Tag>}
        </Space>
      ),
    },
    {
      title: 'HIS 同步',
      dataIndex: 'hisSyncStatus',
      render: (s: string) => <Tag color={HIS_SYNC[s]?.color}>{label(HIS_SYNC, s)}</Tag>,
    },
    ...hospitalColumn(hospitals),
    { title: '下单时间', dataIndex: 'createdAt', render: time },
    { title: '支付时间', dataIndex: 'paidAt', render: time },
    {
      title: '操作',
      key: 'op',
      fixed: 'right',
      render: (_: unknown, r) => (
        <Space>
          <Button size="small" type="link" onClick={() => setOpen(r)}>
            详情
          </Button>
          <Link to={`/orders/${r.id}`}>新页面</Link>
        </Space>
      ),
    },
  ];

  return (
    <>
      <ListPage<OrderRow>
        title="订单查询"
        path="/orders"
        testId="orders"
        rowKey="id"
        reloadKey={reload}
        filters={[
          { name: 'range', label: '下单日期', type: 'dateRange' },
          { name: 'no', label: '订单号 / HIS 账单号 / 渠道交易号', placeholder: '完整单号' },
          { name: 'patient', label: '患者姓名 / 患者ID（就诊卡号）', placeholder: '完整姓名或卡号' },
          {
            name: 'channel',
            label: '支付渠道',
            type: 'select',
            options: options(CHANNEL).filter((o) => o.value !== 'cash'),
          },
          { name: 'status', label: '订单状态', type: 'select', options: options(ORDER_STATUS) },
          {
            name: 'oneSided',
            label: '单边账',
            type: 'select',
            options: [
              { value: 'true', label: '仅单边账' },
              { value: 'false', label: '非单边账' },
            ],
          },
          { name: 'hospitalId', label: '医院', type: 'hospital' },
        ]}
        columns={columns}
      />
      <Drawer
        title={open ? `订单详情 ${open.orderNo}` : ''}
        width={Math.min(1100, window.innerWidth - 80)}
        open={!!open}
        onClose={() => {
          setOpen(undefined);
          setReload((n) => n + 1);
        }}
        destroyOnHidden
      >
        {open && <OrderDetail id={open.id} />}
      </Drawer>
    </>
  );
}
