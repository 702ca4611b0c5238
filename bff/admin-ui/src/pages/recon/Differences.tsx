import { FileExcelOutlined } from '@ant-design/icons';
import { Button, Drawer, Typography, message } from 'antd';
import type { ColumnsType } from 'antd/es/table';
import { useCallback, useState } from 'react';
import { download, type Query } from '../../api';
import type { ReconItem } from '../../api-types';
import { useAuth } from '../../auth';
import { ListPage } from '../../components/ListPage';
import { dash, tagOf } from '../../components/cells';
import { errorText, label, money, options } from '../../format';
import { hospitalColumn, useHospitals } from '../../hooks';
import { DifferenceDetail } from './DifferenceDetail';
import { RECON_CHANNEL, RECON_ITEM_STATUS, RECON_KIND, RECON_OUTCOME, RECON_RESOLUTION } from './labels';

/** 差异处理: the differences reconciliation found, filtered; each opens side by side with its actions. */
export default function ReconDifferencesPage() {
  const { can } = useAuth();
  const hospitals = useHospitals();
  const [open, setOpen] = useState<ReconItem>();
  const [reload, setReload] = useState(0);
  const [query, setQuery] = useState<Query>({});
  const [exporting, setExporting] = useState(false);
  const onQuery = useCallback((q: Query) => setQuery(q), []);

  const exportXlsx = async () => {
    if (!query.from || !query.to) {
      void message.warning('请先选择业务日期范围（最长 366 天）再导出');
      return;
    }
    setExporting(true);
    try {
      void message.success(
        `已导出：${await download('/recon/exports/differences', { ...query, format: 'xlsx' })}`,
      );
    } catch (e) {
      void message.error(errorText(e));
    } finally {
      setExporting(false);
    }
  };

  const columns: ColumnsType<ReconItem> = [
    { title: '业务日期', dataIndex: 'businessDate', fixed: 'left' },
    ...hospitalColumn(hospitals),
    { title: '渠道', dataIndex: 'channel', render: tagOf(RECON_CHANNEL) },
    { title: '类型', dataIndex: 'kind', render: tagOf(RECON_KIND) },
    {
      title: '支付/退款单号',
      dataIndex: 'keyNo',
      render: (no: string, r) => (
        <Typography.Link onClick={() => setOpen(r)} data-testid="recon-item-no">
          {no}
        </Typography.Link>
      ),
    },
    { title: '差异类型', dataIndex: 'outcome', render: tagOf(RECON_OUTCOME) },
    { title: '渠道金额', dataIndex: 'channelFen', align: 'right', render: money },
    { title: '平台金额', dataIndex: 'platformFen', align: 'right', render: money },
    { title: 'HIS 金额', dataIndex: 'hisFen', align: 'right', render: money },
    { title: '状态', dataIndex: 'status', render: tagOf(RECON_ITEM_STATUS) },
    {
      title: '处理方式',
      dataIndex: 'resolution',
      render: (v: string | null) => (v ? label(RECON_RESOLUTION, v) : '-'),
    },
    { title: '说明', dataIndex: 'note', render: dash, width: 220 },
    {
      title: '操作',
      key: 'op',
      fixed: 'right',
      render: (_: unknown, r) => (
        <Button size="small" type="link" onClick={() => setOpen(r)} data-testid="btn-recon-open">
          {r.status === 'RESOLVED' ? '查看' : '处理'}
        </Button>
      ),
    },
  ];

  return (
    <>
      <ListPage<ReconItem>
        title="差异处理"
        path="/recon/items"
        testId="recon-items"
        rowKey="id"
        reloadKey={reload}
        onQuery={onQuery}
        filters={[
          { name: 'range', label: '业务日期', type: 'dateRange' },
          {
            name: 'channel',
            label: '渠道',
            type: 'select',
            options: options(RECON_CHANNEL).filter((o) => o.value === o.value.toLowerCase()),
          },
          { name: 'outcome', label: '差异类型', type: 'select', options: options(RECON_OUTCOME) },
          { name: 'status', label: '处理状态', type: 'select', options: options(RECON_ITEM_STATUS) },
          { name: 'no', label: '支付/退款单号 / 订单号', placeholder: '完整单号' },
          { name: 'hospitalId', label: '医院', type: 'hospital' },
        ]}
        extra={
          can('recon.export') && (
            <Button
              icon={<FileExcelOutlined />}
              loading={exporting}
              onClick={() => void exportXlsx()}
              data-testid="btn-export-differences"
            >
              导出 Excel
            </Button>
          )
        }
        columns={columns}
      />
      <Drawer
        title={open ? `对账差异 ${open.keyNo}` : ''}
        width={Math.min(1440, window.innerWidth - 60)}
        open={!!open}
        onClose={() => setOpen(undefined)}
        destroyOnHidden
      >
        {open && <DifferenceDetail id={open.id} onChanged={() => setReload((n) => n + 1)} />}
      </Drawer>
    </>
  );
}
