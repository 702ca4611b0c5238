import {
  AlertOutlined,
  AccountBookOutlined,
  AuditOutlined,
  BellOutlined,
  DashboardOutlined,
  DesktopOutlined,
  FileSearchOutlined,
  LogoutOutlined,
  MessageOutlined,
  ProfileOutlined,
  RollbackOutlined,
  SettingOutlined,
  TeamOutlined,
  UserOutlined,
} from '@ant-design/icons';
import { Avatar, Button, Dropdown, Layout, Menu, Space, Tag, type MenuProps } from 'antd';
import { useMemo, useState, type ReactNode } from 'react';
import { Outlet, useLocation, useNavigate } from 'react-router-dom';
import { logout } from '../api';
import { useAuth } from '../auth';

interface Item {
  path: string;
  label: string;
  /** Shown to roles holding this permission (or any of these). */
  permission: string | readonly string[];
  icon?: ReactNode;
}
interface Group {
  key: string;
  label: string;
  icon: ReactNode;
  children: Item[];
}

/** The menu; each entry is shown only to roles holding its permission. */
const MENU: (Item | Group)[] = [
  { path: '/dashboard', label: '仪表盘', permission: 'dashboard.view', icon: <DashboardOutlined /> },
  { path: '/orders', label: '订单查询', permission: 'orders.view', icon: <ProfileOutlined /> },
  { path: '/refunds', label: '退款记录', permission: 'refunds.view', icon: <RollbackOutlined /> },
  { path: '/alerts', label: '告警消息', permission: 'alerts.view', icon: <AlertOutlined /> },
  { path: '/patient-messages', label: '患者消息', permission: 'orders.view', icon: <BellOutlined /> },
  { path: '/comments', label: '订单评价', permission: 'comments.view', icon: <MessageOutlined /> },
  {
    key: 'recon',
    label: '对账',
    icon: <AccountBookOutlined />,
    children: [
      { path: '/recon/runs', label: '对账批次', permission: 'recon.view' },
      { path: '/recon/items', label: '差异处理', permission: 'recon.view' },
      { path: '/recon/reports', label: '对账报表', permission: 'recon.view' },
      // Deliveries for finance (recon.view), the targets for IT (settings.view).
      { path: '/recon/push', label: '对账文件推送', permission: ['recon.view', 'settings.view'] },
    ],
  },
  {
    key: 'logs',
    label: '日志查询',
    icon: <FileSearchOutlined />,
    children: [
      { path: '/logs/outbound', label: '接口日志', permission: 'logs.view' },
      { path: '/logs/open-api', label: '开放接口日志', permission: 'logs.view' },
      { path: '/logs/abnormal', label: '异常请求', permission: 'logs.view' },
      { path: '/logs/logins', label: '登录日志', permission: 'logins.view' },
      { path: '/logs/audit', label: '审计日志', permission: 'audit.view' },
    ],
  },
  {
    key: 'system',
    label: '系统管理',
    icon: <SettingOutlined />,
    children: [
      { path: '/users', label: '用户管理', permission: 'users.manage', icon: <UserOutlined /> },
      { path: '/roles', label: '角色与权限', permission: 'roles.manage', icon: <TeamOutlined /> },
      { path: '/settings', label: '医院与商户配置', permission: 'settings.view', icon: <AuditOutlined /> },
    ],
  },
];

const isGroup = (i: Item | Group): i is Group => 'children' in i;
const allowed = (item: Item, has: (p: string) => boolean) =>
  (typeof item.permission === 'string' ? [item.permission] : item.permission).some(has);

/** The first page a user may open (the landing page after login). */
export function firstAllowedPath(permissions: string[]): string {
  for (const i of MENU) {
    for (const item of isGroup(i) ? i.children : [i])
      if (allowed(item, (p) => permissions.includes(p))) return item.path;
  }
  return '/dashboard';
}

export function AppLayout() {
  const { user, can } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [collapsed, setCollapsed] = useState(false);

  const items = useMemo<MenuProps['items']>(
    () =>
      MENU.flatMap((i) => {
        if (!isGroup(i)) return allowed(i, can) ? [{ key: i.path, icon: i.icon, label: i.label }] : [];
        const children = i.children
          .filter((c) => allowed(c, can))
          .map((c) => ({ key: c.path, label: c.label }));
        return children.length ? [{ key: i.key, icon: i.icon, label: i.label, children }] : [];
      }),
    [user],
  );
  const selected = '/' + location.pathname.split('/').filter(Boolean).slice(0, 2).join('/');
  const selectedKey = selected.startsWith('/orders') ? '/orders' : selected;
  const openKey = selected.startsWith('/logs')
    ? 'logs'
    : selected.startsWith('/recon')
      ? 'recon'
      : ['/users', '/roles', '/settings'].includes(selected)
        ? 'system'
        : '';

  const doLogout = async () => {
    await logout();
    navigate('/login', { replace: true });
  };

  return (
    <Layout style={{ minHeight: '100vh' }}>
      <Layout.Sider width={216} collapsible collapsed={collapsed} onCollapse={setCollapsed} theme="dark">
        <div className="hp-brand">
          <span className="hp-brand-logo">付</span>
          {!collapsed && <span>统一支付管理后台</span>}
        </div>
        <Menu
          theme="dark"
          mode="inline"
          items={items}
          selectedKeys={[selectedKey]}
          defaultOpenKeys={openKey ? [openKey] : []}
          onClick={(e) => navigate(e.key)}
        />
      </Layout.Sider>
      <Layout>
        <Layout.Header className="hp-header">
          <span style={{ color: '#6b7280' }}>医院统一支付平台</span>
          <Space size="middle">
            {can('dashboard.view') && (
              <Button icon={<DesktopOutlined />} onClick={() => window.open('/admin/monitor', '_blank')}>
                监控大屏
              </Button>
            )}
            <Dropdown
              menu={{
                items: [{ key: 'logout', icon: <LogoutOutlined />, label: '退出登录' }],
                onClick: () => void doLogout(),
              }}
            >
              <Space style={{ cursor: 'pointer' }} data-testid="user-menu">
                <Avatar size="small" icon={<UserOutlined />} style={{ background: '#0b6bcb' }} />
                <span>{user?.displayName}</span>
                <Tag color="blue">{user?.role.name}</Tag>
              </Space>
            </Dropdown>
            <Button type="text" icon={<LogoutOutlined />} onClick={() => void doLogout()}>
              退出
            </Button>
          </Space>
        </Layout.Header>
        <Layout.Content className="hp-content">
          <Outlet />
        </Layout.Content>
      </Layout>
    </Layout>
  );
}
