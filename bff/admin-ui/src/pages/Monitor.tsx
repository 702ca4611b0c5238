import { CloseOutlined, FullscreenOutlined } from '@ant-design/icons';
import { Button, ConfigProvider, Select, Space, theme } from 'antd';
import dayjs from 'dayjs';
import { useCallback, useEffect, useMemo, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router-dom';
import { api } from '../api';
import { Chart } from '../components/Chart';
import { channelPie, dailyTrend, hourlyBars, type DashboardData } from '../dashboard-data';
import { errorText, money, percent } from '../format';

const INTERVALS = [10, 30, 60, 300];

/** 监控大屏: the dashboard for a wall screen — dark, big numbers, refreshing itself every N seconds. */
export default function MonitorPage() {
  const [params, setParams] = useSearchParams();
  const navigate = useNavigate();
  const asked = Number(params.get('interval'));
  const interval = Number.isInteger(asked) && asked >= 2 && asked <= 3600 ? asked : 30;
  const hospitalId = params.get('hospitalId') ?? undefined;
  const [data, setData] = useState<DashboardData>();
  const [error, setError] = useState<string>();
  const [updatedAt, setUpdatedAt] = useState<Date>();
  const [refreshes, setRefreshes] = useState(0);
  const [now, setNow] = useState(() => new Date());

  const load = useCallback(async () => {
    try {
      setData(await api<DashboardData>('GET', '/dashboard', { query: { hospitalId } }));
      setUpdatedAt(new Date());
      setRefreshes((n) => n + 1);
      setError(undefined);
    } catch (e) {
      setError(errorText(e));
    }
  }, [hospitalId]);

  useEffect(() => {
    void load();
    const t = setInterval(() => void load(), interval * 1000);
    return () => clearInterval(t);
  }, [load, interval]);
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(t);
  }, []);

  const pie = useMemo(() => data && channelPie(data, true), [data]);
  const hourly = useMemo(() => data && hourlyBars(data, true), [data]);
  const daily = useMemo(() => data && dailyTrend(data, true), [data]);
  const a = data?.attention;
  const next = updatedAt
    ? Math.max(0, interval - Math.floor((now.getTime() - updatedAt.getTime()) / 1000))
    : interval;

  const cards: { label: string; value: string; tone?: 'warn' | 'bad'; id: string }[] = [
    { id: 'income', label: '今日收入', value: data ? money(data.totalIncomeFen) : '--' },
    { id: 'orders', label: '今日订单（笔）', value: data ? String(data.ordersToday) : '--' },
    { id: 'rate', label: '支付成功率', value: data ? percent(data.successRate) : '--' },
    { id: 'refunds', label: '今日退款', value: data ? money(data.refundsToday.amountFen) : '--' },
    {
      id: 'paying',
      label: '支付中',
      value: a ? String(a.paying) : '--',
      tone: a && a.paying > 0 ? 'warn' : undefined,
    },
    {
      id: 'conflicted',
      label: '冲突订单',
      value: a ? String(a.conflicted) : '--',
      tone: a && a.conflicted > 0 ? 'bad' : undefined,
    },
    {
      id: 'one-sided',
      label: '单边账',
      value: a ? String(a.oneSided) : '--',
      tone: a && a.oneSided > 0 ? 'bad' : undefined,
    },
    {
      id: 'alerts',
      label: '未处理告警',
      value: a ? String(a.openAlerts) : '--',
      tone: a && a.openAlerts > 0 ? 'bad' : undefined,
    },
  ];

  return (
    <ConfigProvider theme={{ algorithm: theme.darkAlgorithm }}>
      <div className="hp-monitor" data-testid="monitor">
        <div className="hp-monitor-head">
          <div className="hp-monitor-title">医院统一支付平台 · 实时监控</div>
          <Space size="large">
            <span className="hp-monitor-clock">{dayjs(now).format('YYYY-MM-DD HH:mm:ss')}</span>
            <Select
              size="small"
              value={interval}
              style={{ width: 120 }}
              onChange={(v) => {
                const p = new URLSearchParams(params);
                p.set('interval', String(v));
                setParams(p, { replace: true });
              }}
              options={[...new Set([...INTERVALS, interval])]
                .sort((x, y) => x - y)
                .map((s) => ({ value: s, label: `每 ${s} 秒刷新` }))}
            />
            <Button
              size="small"
              icon={<FullscreenOutlined />}
              onClick={() => void document.documentElement.requestFullscreen?.()}
            >
              全屏
            </Button>
            <Button size="small" icon={<CloseOutlined />} onClick={() => navigate('/dashboard')}>
              退出
            </Button>
          </Space>
        </div>
        {error && <div style={{ color: '#ff6b6b', marginBottom: 12 }}>数据刷新失败：{error}</div>}
        <div className="hp-monitor-grid">
          {cards.map((c) => (
            <div key={c.id} className={`hp-monitor-card ${c.tone ?? ''}`} data-testid={`monitor-${c.id}`}>
              <div className="hp-monitor-card-label">{c.label}</div>
              <div className="hp-monitor-card-value">{c.value}</div>
            </div>
          ))}
        </div>
        <div className="hp-monitor-charts">
          <div className="hp-monitor-card">
            <div className="hp-monitor-card-label">今日各渠道收入</div>
            {pie && <Chart option={pie} height={300} dark />}
          </div>
          <div className="hp-monitor-card">
            <div className="hp-monitor-card-label">今日分时收入</div>
            {hourly && <Chart option={hourly} height={300} dark />}
          </div>
        </div>
        <div className="hp-monitor-card" style={{ marginTop: 16 }}>
          <div className="hp-monitor-card-label">近 14 日收入趋势</div>
          {daily && <Chart option={daily} height={260} dark />}
        </div>
        <div className="hp-monitor-foot">
          <span data-testid="monitor-updated">
            上次更新 {updatedAt ? dayjs(updatedAt).format('HH:mm:ss') : '--'} · 第 {refreshes} 次刷新
          </span>
          <span>{next} 秒后刷新</span>
        </div>
      </div>
    </ConfigProvider>
  );
}
