import type { ChartOption } from './components/Chart';
import { CHANNEL, label, money } from './format';
import { fenToYuan } from '../../../shared/src/money';

/** GET /admin/api/dashboard */
export interface DashboardData {
  day: string;
  income: { channel: string; orders: number; amountFen: number; refundedFen: number; netFen: number }[];
  totalIncomeFen: number;
  ordersToday: number;
  successRate: number | null;
  byStatus: { status: string; n: number }[];
  attention: { paying: number; conflicted: number; oneSided: number; refunding: number; openAlerts: number };
  refundsToday: { count: number; amountFen: number };
  hourly: { hour: number; channel: string; orders: number; amountFen: number }[];
  daily: { day: string; orders: number; amountFen: number; refundedFen: number }[];
}

const yuanNumber = (fen: number) => Number(fenToYuan(fen));
// An explicit `textStyle: undefined` hides echarts' legend text: set it only when there is one.
const legendText = (dark: boolean) => (dark ? { textStyle: { color: '#b7c8ee' } } : {});
const CHANNEL_COLORS: Record<string, string> = {
  wechatpay: '#22b35e',
  alipay: '#1677ff',
  bankpay: '#faad14',
};

/** Income per channel today (pie). */
export function channelPie(d: DashboardData, dark = false): ChartOption {
  return {
    tooltip: {
      trigger: 'item',
      formatter: (p: { name: string; value: number; percent: number }) =>
        `${p.name}<br/>¥${p.value.toFixed(2)}（${p.percent}%）`,
    },
    legend: { bottom: 0, ...legendText(dark) },
    series: [
      {
        type: 'pie',
        radius: ['45%', '70%'],
        center: ['50%', '45%'],
        label: { formatter: '{b}\n{d}%', color: dark ? '#dbe7ff' : undefined },
        data: d.income.map((r) => ({
          name: label(CHANNEL, r.channel),
          value: yuanNumber(r.amountFen),
          itemStyle: { color: CHANNEL_COLORS[r.channel] },
        })),
      },
    ],
  };
}

/** Today by hour, stacked per channel. */
export function hourlyBars(d: DashboardData, dark = false): ChartOption {
  const hours = Array.from({ length: 24 }, (_, h) => `${String(h).padStart(2, '0')}时`);
  const channels = [...new Set(d.hourly.map((r) => r.channel))];
  return {
    tooltip: { trigger: 'axis', valueFormatter: (v: number) => `¥${Number(v).toFixed(2)}` },
    legend: { top: 0, ...legendText(dark) },
    grid: { left: 56, right: 16, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: hours },
    yAxis: { type: 'value', name: '元' },
    series: (channels.length ? channels : ['wechatpay']).map((c) => ({
      name: label(CHANNEL, c),
      type: 'bar',
      stack: 'income',
      itemStyle: { color: CHANNEL_COLORS[c] },
      data: hours.map((_, h) => {
        const r = d.hourly.find((x) => x.hour === h && x.channel === c);
        return r ? yuanNumber(r.amountFen) : 0;
      }),
    })),
  };
}

/** The last 14 days: income (bars) and paid orders (line). */
export function dailyTrend(d: DashboardData, dark = false): ChartOption {
  return {
    tooltip: { trigger: 'axis' },
    legend: { top: 0, ...legendText(dark) },
    grid: { left: 64, right: 48, top: 36, bottom: 28 },
    xAxis: { type: 'category', data: d.daily.map((r) => r.day.slice(5)) },
    yAxis: [
      { type: 'value', name: '收入（元）' },
      { type: 'value', name: '笔数', splitLine: { show: false } },
    ],
    series: [
      {
        name: '收入',
        type: 'bar',
        itemStyle: { color: '#2f8cff', borderRadius: [4, 4, 0, 0] },
        data: d.daily.map((r) => yuanNumber(r.amountFen)),
        tooltip: { valueFormatter: (v: number) => `¥${Number(v).toFixed(2)}` },
      },
      {
        name: '支付笔数',
        type: 'line',
        yAxisIndex: 1,
        itemStyle: { color: '#14c9a8' },
        data: d.daily.map((r) => r.orders),
      },
    ],
  };
}

export { money };
