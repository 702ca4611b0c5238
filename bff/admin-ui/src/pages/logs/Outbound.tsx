import { Col, Row } from 'antd';
import { ListPage } from '../../components/ListPage';
import { Json } from '../../components/Json';
import { dash, tagOf } from '../../components/cells';
import { CALL_RESULT, options, PARTY, time } from '../../format';

interface CallRow {
  id: number;
  party: string;
  operation: string;
  orderNo: string | null;
  method: string;
  url: string;
  httpStatus: number | null;
  latencyMs: number;
  result: string;
  errorCode: string | null;
  errorMessage: string | null;
  request: unknown;
  response: unknown;
  requestId: string | null;
  createdAt: string;
}

/** 接口日志: every call we made to a channel or the HIS (payloads masked when recorded). */
export default function OutboundLogPage() {
  return (
    <ListPage<CallRow>
      title="接口日志"
      path="/logs/outbound"
      testId="log-outbound"
      rowKey="id"
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'party', label: '对象', type: 'select', options: options(PARTY) },
        { name: 'operation', label: '接口', placeholder: '如 create、query、refund' },
        { name: 'orderNo', label: '订单号' },
        { name: 'result', label: '结果', type: 'select', options: options(CALL_RESULT) },
        {
          name: 'failed',
          label: '只看失败',
          type: 'select',
          options: [{ value: 'true', label: '只看失败' }],
        },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
      ]}
      expandable={{
        expandedRowRender: (r) => (
          <Row gutter={16}>
            <Col span={24} style={{ marginBottom: 8, color: '#6b7280' }}>
              {r.method} {r.url} {r.requestId ? `· 请求ID ${r.requestId}` : ''}
            </Col>
            <Col xs={24} lg={12}>
              <b>请求（已脱敏）</b>
              <Json value={r.request} />
            </Col>
            <Col xs={24} lg={12}>
              <b>响应（已脱敏）</b>
              <Json value={r.response} />
            </Col>
          </Row>
        ),
      }}
      columns={[
        { title: '时间', dataIndex: 'createdAt', render: time },
        { title: '对象', dataIndex: 'party', render: tagOf(PARTY) },
        { title: '接口', dataIndex: 'operation' },
        { title: '订单号', dataIndex: 'orderNo', render: dash },
        { title: 'HTTP', dataIndex: 'httpStatus', render: dash },
        { title: '结果', dataIndex: 'result', render: tagOf(CALL_RESULT) },
        { title: '耗时 (ms)', dataIndex: 'latencyMs', align: 'right' },
        {
          title: '错误',
          dataIndex: 'errorMessage',
          render: (m: string | null, r) => (m || r.errorCode ? `${r.errorCode ?? ''} ${m ?? ''}` : '-'),
        },
      ]}
    />
  );
}
