import { DesktopOutlined, ReloadOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Col, Row, Select, Space, Statistic, Table, Tag, Typography } from 'antd';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Link } from 'react-router-dom';
import { api } from '../api';
import { Chart } from '../components/Chart';
import { channelPie, dailyTrend, hourlyBars, type DashboardData } from '../dashboard-data';
import { CHANNEL, errorText, label, money, ORDER_STATUS, percent, time } from '../format';
import { useHospitals } from '../hooks';

export default function DashboardPage() {
  const hospitals = useHospitals();
  const [hospitalId, setHospitalId] = useState<string>();
  const [data, setData] = useState<DashboardData>();
  const [error, setError] = useState<string>();
  const [loading, setLoading] = useState(false);
  const [at, setAt] = useState<string>();

  const load = useCallback(async () => {
    setLoading(true);
    try {
      setData(await api<DashboardData>('GET', '/dashboard', { query: { hospitalId } }));
      setAt(new Date().toISOString());
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setLoading(false);
    }
  }, [hospitalId]);
  useEffect(() => {
    void load();
  }, [load]);

  const pie = useMemo(() => data && channelPie(data), [data]);
  const hourly = useMemo(() => data && hourlyBars(data), [data]);
  const daily = useMemo(() => data && dailyTrend(data), [data]);
  const a = data?.attention;

  return (
    <div data-testid="dashboard">
      <Space style={{ width: '100%', justifyContent: 'space-between', marginBottom: 16 }} wrap>
        <h2 className="hp-page-title" style={{ margin: 0 }}>
          仪表盘{' '}
          <Typography.Text type="secondary" style={{ fontSize: 13, fontWeight: 400 }}>
            今日（北京时间）· 更新于 {time(at)}
          </Typography.Text>
        </h2>
        <Space>
          {hospitals.length > 1 && (
            <Select
              allowClear
              placeholder="全部医院"
              style={{ width: 200 }}
              value={hospitalId}
              onChange={setHospitalId}
              options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
            />
          )}
          <Button icon={<ReloadOutlined />} onClick={() => void load()} loading={loading}>
            刷新
          </Button>
          <Button
            type="primary"
            icon={<DesktopOutlined />}
            onClick={() =>
              window.open(`/admin/monitor${hospitalId ? `?hospitalId=${hospitalId}` : ''}`, '_blank')
            }
          >
            监控大屏
          </Button>
        </Space>
      </Space>
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} />}
      <Row gutter={[16, 16]}>
        <Col xs={24} sm={12} xl={6}>
          <Card className="hp-stat" data-testid="stat-income">
            <Statistic
              title="今日收入"
              value={data ? money(data.totalIncomeFen) : '-'}
              valueStyle={{ color: '#0b6bcb' }}
            />
            <Typography.Text type="secondary">
              退款 {data ? `${data.refundsToday.count} 笔 / ${money(data.refundsToday.amountFen)}` : '-'}
            </Typography.Text>
          </Card>
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <Card className="hp-stat" data-testid="stat-orders">
            <Statistic title="今日订单" value={data?.ordersToday ?? '-'} suffix="笔" />
            <Typography.Text type="secondary">支付成功率 {percent(data?.successRate)}</Typography.Text>
          </Card>
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <Card className="hp-stat">
            <Statistic title="支付中 / 退款中" value={a ? `${a.paying} / ${a.refunding}` : '-'} />
            <Typography.Text type="secondary">
              <Link to="/orders?status=PAYING">查看支付中订单</Link>
            </Typography.Text>
          </Card>
        </Col>
        <Col xs={24} sm={12} xl={6}>
          <Card className="hp-stat" data-testid="stat-attention">
            <Statistic
              title="冲突订单 / 单边账 / 未处理告警"
              value={a ? `${a.conflicted} / ${a.oneSided} / ${a.openAlerts}` : '-'}
              valueStyle={{
                color: a && a.conflicted + a.oneSided + a.openAlerts > 0 ? '#cf1322' : undefined,
              }}
            />
            <Space size="small">
              <Link to="/orders?status=CONFLICTED">冲突</Link>
              <Link to="/orders?oneSided=true">单边账</Link>
              <Link to="/alerts?status=OPEN">告警</Link>
            </Space>
          </Card>
        </Col>
      </Row>
      <Row gutter={[16, 16]} style={{ marginTop: 16 }}>
        <Col xs={24} xl={8}>
          <Card title="今日各渠道收入" size="small">
            {pie && <Chart option={pie} height={280} />}
          </Card>
        </Col>
        <Col xs={24} xl={16}>
          <Card title="今日分时收入" size="small">
            {hourly && <Chart option={hourly} height={280} />}
          </Card>
        </Col>
        <Col xs={24} xl={16}>
          <Card title="近 14 日收入趋势" size="small">
            {daily && <Chart option={daily} height={300} />}
          </Card>
        </Col>
        <Col xs={24} xl={8}>
          <Card title="渠道明细（今日）" size="small" style={{ marginBottom: 16 }}>
            <Table
              size="small"
              rowKey="channel"
              pagination={false}
              dataSource={data?.income ?? []}
              locale={{ emptyText: '今日暂无收入' }}
              columns={[
                {
                  title: '渠道',
                  dataIndex: 'channel',
                  render: (c: string) => <Tag color={CHANNEL[c]?.color}>{label(CHANNEL, c)}</Tag>,
                },
                { title: '笔数', dataIndex: 'orders', align: 'right' },
                { title: '金额', dataIndex: 'amountFen', align: 'right', render: money },
                { title: '净收入', dataIndex: 'netFen', align: 'right', render: money },
              ]}
            />
          </Card>
          <Card title="今日订单状态" size="small">
            <Space wrap>
              {(data?.byStatus ?? []).map((s) => (
                <Tag key={s.status} color={ORDER_STATUS[s.status]?.color}>
                  {label(ORDER_STATUS, s.status)} {s.n}
                </Tag>
              ))}
              {data && !data.byStatus.length && (
                <Typography.Text type="secondary">今日暂无订单</Typography.Text>
              )}
            </Space>
          </Card>
        </Col>
      </Row>
    </div>
  );
}
