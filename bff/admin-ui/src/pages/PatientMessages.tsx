import { ListPage } from '../components/ListPage';
import { dash, tagOf } from '../components/cells';
import { options, PATIENT_MESSAGE_KIND, time } from '../format';

interface MessageRow {
  id: string;
  patientName: string | null;
  kind: string;
  title: string;
  body: string;
  readAt: string | null;
  createdAt: string;
}

/** What the platform told patients: bills waiting, payments, refunds, credit debits that failed. */
export default function PatientMessagesPage() {
  return (
    <ListPage<MessageRow>
      title="患者消息"
      path="/patient-messages"
      testId="patient-messages"
      rowKey="id"
      filters={[
        { name: 'range', label: '日期', type: 'dateRange' },
        { name: 'kind', label: '类型', type: 'select', options: options(PATIENT_MESSAGE_KIND) },
        { name: 'hospitalId', label: '医院', type: 'hospital' },
        {
          name: 'unread',
          label: '已读',
          type: 'select',
          options: [
            { value: 'true', label: '未读' },
            { value: 'false', label: '已读' },
          ],
        },
      ]}
      columns={[
        { title: '时间', dataIndex: 'createdAt', render: time },
        { title: '患者', dataIndex: 'patientName', render: dash },
        { title: '类型', dataIndex: 'kind', render: tagOf(PATIENT_MESSAGE_KIND) },
        { title: '标题', dataIndex: 'title' },
        { title: '内容', dataIndex: 'body', width: 420 },
        { title: '已读', dataIndex: 'readAt', render: (r: string | null) => (r ? time(r) : '未读') },
      ]}
    />
  );
}
