import { Alert, Card, Descriptions, Table, Tabs, Tag } from 'antd';
import { useEffect, useState } from 'react';
import { api } from '../api';
import { tagOf } from '../components/cells';
import { CHANNEL, errorText, time } from '../format';
import { hospitalName, useHospitals } from '../hooks';

interface HisApp {
  appId: string;
  hospitalId: string;
  name: string;
  callbackBaseUrl: string | null;
  billMode?: string;
  enabled: boolean;
  createdAt: string;
}
interface MerchantAccount {
  id: string;
  hospitalId: string;
  channel: string;
  mchId: string;
  appId: string;
  settings: Record<string, unknown>;
  enabled: boolean;
  createdAt: string;
}

const SETTING: Record<string, string> = {
  mode: '接入模式',
  serialNo: '商户证书序列号',
  platformKeyId: '平台公钥 ID',
  platformPublicKeyPem: '平台公钥',
  apiClientCertPem: '商户 API 证书',
  baseUrl: '接口地址',
  spMchId: '服务商商户号',
  spAppId: '服务商 AppID',
  subAppId: '子商户 AppID',
  alipayPublicKeyPem: '支付宝公钥',
  keyId: '我方密钥 ID',
  bankKeyId: '银行密钥 ID',
  bankPublicKeyHex: '银行公钥',
  userId: 'SM2 用户 ID',
};

const enabledTag = (e: boolean) => (e ? <Tag color="success">启用</Tag> : <Tag>停用</Tag>);

/** 医院 / HIS 应用 / 商户号: read-only; keys and secrets are never sent to the browser. */
export default function SettingsPage() {
  const hospitals = useHospitals();
  const [apps, setApps] = useState<HisApp[]>([]);
  const [accounts, setAccounts] = useState<MerchantAccount[]>([]);
  const [error, setError] = useState<string>();

  useEffect(() => {
    Promise.all([
      api<{ items: HisApp[] }>('GET', '/settings/his-apps'),
      api<{ items: MerchantAccount[] }>('GET', '/settings/merchant-accounts'),
    ])
      .then(([a, m]) => {
        setApps(a.items);
        setAccounts(m.items);
      })
      .catch((e) => setError(errorText(e)));
  }, []);

  return (
    <div data-testid="settings">
      <h2 className="hp-page-title">医院与商户配置</h2>
      <Alert
        type="info"
        showIcon
        style={{ marginBottom: 16 }}
        message="此处只读展示非敏感配置。密钥、证书私钥与 HIS 密钥加密存放，从不下发到浏览器；修改配置请使用 npm run provision。"
      />
      {error && <Alert type="error" showIcon message={error} style={{ marginBottom: 16 }} />}
      <Card size="small">
        <Tabs
          items={[
            {
              key: 'hospitals',
              label: `医院（${hospitals.length}）`,
              children: (
                <Table
                  rowKey="id"
                  size="middle"
                  pagination={false}
                  dataSource={hospitals}
                  columns={[
                    { title: '医院编码', dataIndex: 'code' },
                    { title: '名称', dataIndex: 'name' },
                    { title: 'ID', dataIndex: 'id' },
                    { title: '创建时间', dataIndex: 'createdAt', render: time },
                  ]}
                />
              ),
            },
            {
              key: 'his',
              label: `HIS 应用（${apps.length}）`,
              children: (
                <Table
                  rowKey="appId"
                  size="middle"
                  pagination={false}
                  dataSource={apps}
                  columns={[
                    { title: '应用 ID (X-App-Id)', dataIndex: 'appId' },
                    { title: '名称', dataIndex: 'name' },
                    {
                      title: '医院',
                      dataIndex: 'hospitalId',
                      render: (h: string) => hospitalName(hospitals, h),
                    },
                    {
                      title: 'HIS 接口地址',
                      dataIndex: 'callbackBaseUrl',
                      render: (u: string | null) => u ?? '（无：HIS 只拉取结果）',
                    },
                    {
                      title: '账单模式',
                      dataIndex: 'billMode',
                      render: (m?: string) => (m === 'pull' ? '平台向 HIS 拉取' : 'HIS 推送'),
                    },
                    { title: '状态', dataIndex: 'enabled', render: enabledTag },
                    { title: '密钥', key: 'secret', render: () => <Tag>已加密存储</Tag> },
                    { title: '创建时间', dataIndex: 'createdAt', render: time },
                  ]}
                />
              ),
            },
            {
              key: 'merchants',
              label: `商户号（${accounts.length}）`,
              children: (
                <Table
                  rowKey="id"
                  size="middle"
                  pagination={false}
                  dataSource={accounts}
                  scroll={{ x: 'max-content' }}
                  expandable={{
                    defaultExpandAllRows: false,
                    expandedRowRender: (m) => (
                      <Descriptions size="small" bordered column={1}>
                        {Object.entries(m.settings).map(([k, v]) => (
                          <Descriptions.Item key={k} label={SETTING[k] ? `${SETTING[k]}（${k}）` : k}>
                            {typeof v === 'string' ? v : JSON.stringify(v)}
                          </Descriptions.Item>
                        ))}
                        <Descriptions.Item label="私钥 / API 密钥">已加密存储，不可查看</Descriptions.Item>
                      </Descriptions>
                    ),
                  }}
                  columns={[
                    { title: '账户 ID', dataIndex: 'id' },
                    {
                      title: '医院',
                      dataIndex: 'hospitalId',
                      render: (h: string) => hospitalName(hospitals, h),
                    },
                    { title: '渠道', dataIndex: 'channel', render: tagOf(CHANNEL) },
                    { title: '商户号', dataIndex: 'mchId' },
                    { title: 'AppID', dataIndex: 'appId' },
                    {
                      title: '模式',
                      key: 'mode',
                      render: (_: unknown, m) =>
                        m.settings.mode === 'partner'
                          ? '服务商子商户'
                          : m.channel === 'wechatpay'
                            ? '直连商户'
                            : '-',
                    },
                    {
                      title: '接口地址',
                      key: 'baseUrl',
                      render: (_: unknown, m) => String(m.settings.baseUrl ?? '-'),
                    },
                    { title: '状态', dataIndex: 'enabled', render: enabledTag },
                  ]}
                />
              ),
            },
          ]}
        />
      </Card>
    </div>
  );
}
