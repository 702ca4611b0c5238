import { BarChart, LineChart, PieChart } from 'echarts/charts';
import { GridComponent, LegendComponent, TitleComponent, TooltipComponent } from 'echarts/components';
import * as echarts from 'echarts/core';
import { CanvasRenderer } from 'echarts/renderers';
import { useEffect, useRef } from 'react';

// Only what the pages draw, so the bundle stays small.
echarts.use([
  BarChart,
  LineChart,
  PieChart,
  GridComponent,
  LegendComponent,
  TitleComponent,
  TooltipComponent,
  CanvasRenderer,
]);

export type ChartOption = echarts.EChartsCoreOption;

/** One echarts canvas that follows its container's size; `dark` for the monitoring mode. */
export function Chart({
  option,
  height = 300,
  dark = false,
}: {
  option: ChartOption;
  height?: number;
  dark?: boolean;
}) {
  const el = useRef<HTMLDivElement>(null);
  const chart = useRef<echarts.ECharts>();
  useEffect(() => {
    const c = echarts.init(el.current!, dark ? 'dark' : undefined);
    chart.current = c;
    const ro = new ResizeObserver(() => c.resize());
    ro.observe(el.current!);
    return () => {
      ro.disconnect();
      c.dispose();
      chart.current = undefined;
    };
  }, [dark]);
  useEffect(() => {
    chart.current?.setOption(dark ? { backgroundColor: 'transparent', ...option } : option, true);
  }, [option, dark]);
  return <div ref={el} className="hp-chart" style={{ width: '100%', height }} />;
}
