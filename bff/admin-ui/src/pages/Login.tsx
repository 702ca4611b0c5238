import { LockOutlined, UserOutlined } from '@ant-design/icons';
import { Alert, Button, Card, Form, Input, Typography } from 'antd';
import { useState } from 'react';
import { Navigate, useLocation, useNavigate } from 'react-router-dom';
import { ApiError, login } from '../api';
import { useAuth } from '../auth';
import { firstAllowedPath } from '../components/AppLayout';
import { errorText } from '../format';

export function LoginPage() {
  const { user } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const [error, setError] = useState<{ text: string; locked: boolean } | null>(null);
  const [busy, setBusy] = useState(false);
  const from = (location.state as { from?: string } | null)?.from;

  if (user)
    return <Navigate to={from && from !== '/login' ? from : firstAllowedPath(user.permissions)} replace />;

  const submit = async (v: { username: string; password: string }) => {
    setBusy(true);
    setError(null);
    try {
      const me = await login(v.username.trim(), v.password);
      navigate(from && from !== '/login' ? from : firstAllowedPath(me.permissions), { replace: true });
    } catch (e) {
      setError({ text: errorText(e), locked: e instanceof ApiError && e.code === 'account_locked' });
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="hp-login">
      <Card style={{ width: 400, boxShadow: '0 12px 40px rgba(15, 40, 80, 0.12)' }} variant="borderless">
        <div style={{ textAlign: 'center', marginBottom: 24 }}>
          <div
            className="hp-brand-logo"
            style={{ width: 48, height: 48, margin: '0 auto 12px', fontSize: 22, color: '#fff' }}
          >
            付
          </div>
          <Typography.Title level={3} style={{ margin: 0 }}>
            医院统一支付平台
          </Typography.Title>
          <Typography.Text type="secondary">财务与信息科管理后台</Typography.Text>
        </div>
        {error && (
          <Alert
            type={error.locked ? 'error' : 'warning'}
            showIcon
            message={error.text}
            style={{ marginBottom: 16 }}
            data-testid="login-error"
          />
        )}
        <Form layout="vertical" onFinish={submit} requiredMark={false} size="large">
          <Form.Item name="username" rules={[{ required: true, message: '请输入用户名' }]}>
            <Input prefix={<UserOutlined />} placeholder="用户名" autoComplete="username" id="username" />
          </Form.Item>
          <Form.Item name="password" rules={[{ required: true, message: '请输入密码' }]}>
            <Input.Password
              prefix={<LockOutlined />}
              placeholder="密码"
              autoComplete="current-password"
              id="password"
            />
          </Form.Item>
          <Button type="primary" htmlType="submit" block loading={busy}>
            登录
          </Button>
        </Form>
        <Typography.Paragraph type="secondary" style={{ marginTop: 16, marginBottom: 0, fontSize: 12 }}>
          连续多次密码错误将临时锁定账户；每次登录均记录 IP 与设备。
        </Typography.Paragraph>
      </Card>
    </div>
  );
}
