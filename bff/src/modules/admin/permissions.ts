/**
 * Admin permissions, one per action, and the built-in roles. A route declares the one permission it needs
 * (modules/admin/routes.ts); one middleware enforces it. Roles are rows (admin_roles) so a hospital can
 * add its own; the built-in ones are kept in step with this file at boot.
 */
export const PERMISSIONS = {
  'dashboard.view': '查看首页与监控大屏',
  'orders.view': '查询订单',
  'orders.refund': '发起原路退款',
  'orders.cash_refund': '登记现金退款',
  'refunds.view': '查询退款',
  'recon.view': '查看对账',
  'recon.resolve': '处理对账差异',
  'recon.export': '导出报表',
  'comments.view': '查看订单评价',
  'alerts.view': '查看告警消息',
  'alerts.resolve': '处理告警消息',
  'logs.view': '查看接口日志与异常请求',
  'logins.view': '查看登录日志',
  'audit.view': '查看操作审计',
  'users.manage': '管理用户',
  'roles.manage': '管理角色与权限',
  'settings.view': '查看 HIS 应用与渠道配置',
  'settings.manage': '修改 HIS 应用与渠道配置',
  'pii.view': '查看未脱敏的姓名、证件号、卡号',
} as const;

export type Permission = keyof typeof PERMISSIONS;

export const ALL_PERMISSIONS = Object.keys(PERMISSIONS) as Permission[];

export function isPermission(p: string): p is Permission {
  return Object.hasOwn(PERMISSIONS, p);
}

/** A built-in role: seeded and kept in step at boot, cannot be deleted or edited. */
export interface BuiltinRole {
  code: string;
  name: string;
  permissions: readonly Permission[];
}

export const BUILTIN_ROLES: readonly BuiltinRole[] = [
  { code: 'super_admin', name: '超级管理员', permissions: ALL_PERMISSIONS },
  {
    code: 'finance',
    name: '财务',
    permissions: [
      'dashboard.view',
      'orders.view',
      'orders.refund',
      'orders.cash_refund',
      'refunds.view',
      'recon.view',
      'recon.resolve',
      'recon.export',
      'comments.view',
      'alerts.view',
      'alerts.resolve',
      'pii.view',
    ],
  },
  {
    code: 'cashier',
    name: '收费窗口',
    permissions: ['dashboard.view', 'orders.view', 'orders.cash_refund', 'refunds.view'],
  },
  {
    code: 'it_ops',
    name: '信息科运维',
    permissions: [
      'dashboard.view',
      'orders.view',
      'refunds.view',
      'alerts.view',
      'alerts.resolve',
      'logs.view',
      'logins.view',
      'audit.view',
      'settings.view',
      'settings.manage',
      'users.manage',
    ],
  },
  {
    code: 'auditor',
    name: '审计（只读）',
    permissions: [
      'dashboard.view',
      'orders.view',
      'refunds.view',
      'recon.view',
      'comments.view',
      'alerts.view',
      'logs.view',
      'logins.view',
      'audit.view',
      'settings.view',
    ],
  },
];
