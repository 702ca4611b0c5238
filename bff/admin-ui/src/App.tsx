import { Result, Spin } from 'antd';
import { lazy, Suspense, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation } from 'react-router-dom';
import { useAuth } from './auth';
import { AppLayout, firstAllowedPath } from './components/AppLayout';
import { LoginPage } from './pages/Login';

const DashboardPage = lazy(() => import('./pages/Dashboard'));
const MonitorPage = lazy(() => import('./pages/Monitor'));
const OrdersPage = lazy(() => import('./pages/Orders'));
const OrderDetailPage = lazy(() => import('./pages/OrderDetailPage'));
const RefundsPage = lazy(() => import('./pages/Refunds'));
const AlertsPage = lazy(() => import('./pages/Alerts'));
const PatientMessagesPage = lazy(() => import('./pages/PatientMessages'));
const CommentsPage = lazy(() => import('./pages/Comments'));
const OutboundLogPage = lazy(() => import('./pages/logs/Outbound'));
const OpenApiLogPage = lazy(() => import('./pages/logs/OpenApi'));
const AbnormalPage = lazy(() => import('./pages/logs/Abnormal'));
const LoginLogPage = lazy(() => import('./pages/logs/Logins'));
const AuditLogPage = lazy(() => import('./pages/logs/Audit'));
const UsersPage = lazy(() => import('./pages/Users'));
const RolesPage = lazy(() => import('./pages/Roles'));
const SettingsPage = lazy(() => import('./pages/Settings'));
const ReconRunsPage = lazy(() => import('./pages/recon/Runs'));
const ReconDifferencesPage = lazy(() => import('./pages/recon/Differences'));
const ReconReportsPage = lazy(() => import('./pages/recon/Reports'));
const ReconPushPage = lazy(() => import('./pages/recon/Push'));

const loading = (
  <div style={{ padding: 80, textAlign: 'center' }}>
    <Spin size="large" />
  </div>
);

/**
 * A page that needs a permission (or any of several): shown, or a "no permission" result (the API refuses
 * anyway).
 */
function Guard({ permission, children }: { permission: string | readonly string[]; children: ReactNode }) {
  const { can } = useAuth();
  if (!(typeof permission === 'string' ? [permission] : permission).some(can))
    return <Result status="403" title="没有权限" subTitle="您的角色没有访问此页面的权限，请联系管理员。" />;
  return <Suspense fallback={loading}>{children}</Suspense>;
}

function RequireLogin({ children }: { children: ReactNode }) {
  const { user } = useAuth();
  const location = useLocation();
  if (!user) return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  return <>{children}</>;
}

function Home() {
  const { user } = useAuth();
  return <Navigate to={firstAllowedPath(user?.permissions ?? [])} replace />;
}

export function App() {
  return (
    <Routes>
      <Route path="/login" element={<LoginPage />} />
      <Route
        path="/monitor"
        element={
          <RequireLogin>
            <Guard permission="dashboard.view">
              <MonitorPage />
            </Guard>
          </RequireLogin>
        }
      />
      <Route
        element={
          <RequireLogin>
            <AppLayout />
          </RequireLogin>
        }
      >
        <Route index element={<Home />} />
        <Route
          path="dashboard"
          element={
            <Guard permission="dashboard.view">
              <DashboardPage />
            </Guard>
          }
        />
        <Route
          path="orders"
          element={
            <Guard permission="orders.view">
              <OrdersPage />
            </Guard>
          }
        />
        <Route
          path="orders/:id"
          element={
            <Guard permission="orders.view">
              <OrderDetailPage />
            </Guard>
          }
        />
        <Route
          path="refunds"
          element={
            <Guard permission="refunds.view">
              <RefundsPage />
            </Guard>
          }
        />
        <Route
          path="alerts"
          element={
            <Guard permission="alerts.view">
              <AlertsPage />
            </Guard>
          }
        />
        <Route
          path="patient-messages"
          element={
            <Guard permission="orders.view">
              <PatientMessagesPage />
            </Guard>
          }
        />
        <Route
          path="comments"
          element={
            <Guard permission="comments.view">
              <CommentsPage />
            </Guard>
          }
        />
        <Route
          path="recon/runs"
          element={
            <Guard permission="recon.view">
              <ReconRunsPage />
            </Guard>
          }
        />
        <Route
          path="recon/items"
          element={
            <Guard permission="recon.view">
              <ReconDifferencesPage />
            </Guard>
          }
        />
        <Route
          path="recon/reports"
          element={
            <Guard permission="recon.view">
              <ReconReportsPage />
            </Guard>
          }
        />
        <Route
          path="recon/push"
          element={
            <Guard permission={['recon.view', 'settings.view']}>
              <ReconPushPage />
            </Guard>
          }
        />
        <Route
          path="logs/outbound"
          element={
            <Guard permission="logs.view">
              <OutboundLogPage />
            </Guard>
          }
        />
        <Route
          path="logs/open-api"
          element={
            <Guard permission="logs.view">
              <OpenApiLogPage />
            </Guard>
          }
        />
        <Route
          path="logs/abnormal"
          element={
            <Guard permission="logs.view">
              <AbnormalPage />
            </Guard>
          }
        />
        <Route
          path="logs/logins"
          element={
            <Guard permission="logins.view">
              <LoginLogPage />
            </Guard>
          }
        />
        <Route
          path="logs/audit"
          element={
            <Guard permission="audit.view">
              <AuditLogPage />
            </Guard>
          }
        />
        <Route
          path="users"
          element={
            <Guard permission="users.manage">
              <UsersPage />
            </Guard>
          }
        />
        <Route
          path="roles"
          element={
            <Guard permission="roles.manage">
              <RolesPage />
            </Guard>
          }
        />
        <Route
          path="settings"
          element={
            <Guard permission="settings.view">
              <SettingsPage />
            </Guard>
          }
        />
        <Route path="*" element={<Result status="404" title="页面不存在" />} />
      </Route>
    </Routes>
  );
}
