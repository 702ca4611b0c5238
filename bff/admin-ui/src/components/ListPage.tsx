import { ReloadOutlined, SearchOutlined } from '@ant-design/icons';
import { Button, Card, Col, DatePicker, Form, Input, Row, Select, Space, Table, message } from 'antd';
import type { ColumnsType, TableProps } from 'antd/es/table';
import type { Dayjs } from 'dayjs';
import { useCallback, useEffect, useRef, useState, type ReactNode } from 'react';
import { useSearchParams } from 'react-router-dom';
import { api, type Page, type Query } from '../api';
import { errorText } from '../format';
import { useHospitals } from '../hooks';

/** One field of a list's search form. `dateRange` becomes `from`/`to` (whole China days), `date` one day. */
export interface Filter {
  name: string;
  label: string;
  type?: 'text' | 'select' | 'dateRange' | 'date' | 'hospital';
  options?: { value: string; label: string }[];
  placeholder?: string;
}

export interface ListPageProps<T> {
  title: string;
  /** The admin API list, e.g. `/refunds`. */
  path: string;
  filters: Filter[];
  columns: ColumnsType<T>;
  rowKey: string | ((r: T) => string);
  expandable?: TableProps<T>['expandable'];
  onRow?: TableProps<T>['onRow'];
  /** Buttons beside the search buttons. */
  extra?: ReactNode;
  /** Bumped by the page to reload the current page (after an action). */
  reloadKey?: number;
  /** Told the search whenever it changes (e.g. to export what the list shows). */
  onQuery?: (q: Query) => void;
  testId?: string;
}

function toQuery(values: Record<string, unknown>, filters: Filter[]): Query {
  const q: Query = {};
  for (const f of filters) {
    const v = values[f.name];
    if (f.type === 'dateRange') {
      const r = v as [Dayjs | null, Dayjs | null] | undefined;
      if (r?.[0]) q.from = r[0].format('YYYY-MM-DD');
      if (r?.[1]) q.to = r[1].format('YYYY-MM-DD');
    } else if (f.type === 'date') {
      const d = v as Dayjs | null | undefined;
      if (d) q[f.name] = d.format('YYYY-MM-DD');
    } else if (typeof v === 'string' && v.trim()) q[f.name] = v.trim();
  }
  return q;
}

/** A search form, a paged table and its loading: what every admin list page is made of. */
export function ListPage<T extends object>(props: ListPageProps<T>) {
  const { title, path, filters, columns, rowKey, expandable, onRow, extra, reloadKey, testId, onQuery } =
    props;
  const [form] = Form.useForm();
  const [params] = useSearchParams();
  const hospitals = useHospitals();
  // Filters may come with the URL (e.g. /orders?no=…), once, when the page opens.
  const [initial] = useState(() => {
    const v: Record<string, string> = {};
    for (const f of filters) {
      const p = params.get(f.name);
      if (p && f.type !== 'dateRange' && f.type !== 'date') v[f.name] = p;
    }
    return v;
  });
  const [query, setQuery] = useState<Query>(() => toQuery(initial, filters));
  const [page, setPage] = useState(1);
  const [pageSize, setPageSize] = useState(20);
  const [data, setData] = useState<Page<T>>({ items: [], total: 0, page: 1, pageSize: 20 });
  const [loading, setLoading] = useState(false);
  const seq = useRef(0);

  const load = useCallback(async () => {
    const mine = ++seq.current;
    setLoading(true);
    try {
      const res = await api<Page<T>>('GET', path, { query: { ...query, page, pageSize } });
      if (mine === seq.current) setData(res);
    } catch (e) {
      if (mine === seq.current) void message.error(errorText(e));
    } finally {
      if (mine === seq.current) setLoading(false);
    }
  }, [path, query, page, pageSize]);

  useEffect(() => {
    void load();
  }, [load, reloadKey]);
  useEffect(() => onQuery?.(query), [query, onQuery]);

  const search = () => {
    setPage(1);
    setQuery(toQuery(form.getFieldsValue(), filters));
  };
  const reset = () => {
    form.resetFields();
    for (const f of filters) form.setFieldValue(f.name, undefined);
    setPage(1);
    setQuery({});
  };

  const shown = filters.filter((f) => f.type !== 'hospital' || hospitals.length > 1);
  return (
    <div data-testid={testId}>
      <h2 className="hp-page-title">{title}</h2>
      <Card size="small" style={{ marginBottom: 16 }}>
        <Form form={form} initialValues={initial} onFinish={search} layout="vertical" className="hp-filters">
          <Row gutter={16}>
            {shown.map((f) => (
              <Col
                key={f.name}
                xs={24}
                sm={12}
                md={8}
                xl={f.type === 'dateRange' ? 8 : 6}
                xxl={f.type === 'dateRange' ? 6 : 4}
              >
                <Form.Item name={f.name} label={f.label} style={{ marginBottom: 12 }}>
                  {f.type === 'dateRange' ? (
                    <DatePicker.RangePicker style={{ width: '100%' }} />
                  ) : f.type === 'date' ? (
                    <DatePicker style={{ width: '100%' }} />
                  ) : f.type === 'select' ? (
                    <Select allowClear placeholder={f.placeholder ?? '全部'} options={f.options} />
                  ) : f.type === 'hospital' ? (
                    <Select
                      allowClear
                      placeholder="全部医院"
                      options={hospitals.map((h) => ({ value: h.id, label: h.name }))}
                    />
                  ) : (
                    <Input allowClear placeholder={f.placeholder} />
                  )}
                </Form.Item>
              </Col>
            ))}
          </Row>
          <Space>
            <Button type="primary" htmlType="submit" icon={<SearchOutlined />}>
              查询
            </Button>
            <Button onClick={reset}>重置</Button>
            <Button icon={<ReloadOutlined />} onClick={() => void load()}>
              刷新
            </Button>
            {extra}
          </Space>
        </Form>
      </Card>
      <Card size="small">
        <Table<T>
          rowKey={rowKey}
          size="middle"
          loading={loading}
          columns={columns}
          dataSource={data.items}
          expandable={expandable}
          onRow={onRow}
          scroll={{ x: 'max-content' }}
          pagination={{
            current: page,
            pageSize,
            total: data.total,
            showSizeChanger: true,
            pageSizeOptions: [10, 20, 50, 100],
            showTotal: (t) => `共 ${t} 条`,
            onChange: (p, s) => {
              setPage(s !== pageSize ? 1 : p);
              setPageSize(s);
            },
          }}
        />
      </Card>
    </div>
  );
}
