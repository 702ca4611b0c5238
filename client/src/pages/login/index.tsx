import Taro from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { LoginOptions, PatientSession } from '@hp/shared';
import { useEffect, useState } from 'react';
import { StateView } from '../../components/StateView';
import { api, DEFAULT_HOSPITAL, loginOptions, session } from '../../lib/app';
import { messageOf } from '../../lib/api';
import type { LoginMethod } from '../../lib/session';
import { PAGES, pageUrl, usePageParams } from '../../lib/nav';
import { oauthReturn, startWechatLogin, surface } from '../../platform';
import { Button, Cell } from '../../ui/nut';

/**
 * 登录: WeChat login (mini-program `wx.login`, or the official account's OAuth in the H5), and in the demo a
 * picker of the sandbox's patients. Then on to `next` — or to binding a card when the account has none.
 */
export default function LoginPage() {
  const params = usePageParams();
  const next = params.next ?? PAGES.bills;
  const [opts, setOpts] = useState<LoginOptions>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const done = (s: PatientSession, method: LoginMethod) => {
    session.set(s, method);
    const url = s.patient ? next : pageUrl(PAGES.bindCard, { next });
    void Taro.redirectTo({ url }).catch(() => Taro.reLaunch({ url }));
  };
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    setError(undefined);
    try {
      await f();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    void run(async () => {
      const o = await loginOptions();
      setOpts(o);
      // Back from WeChat's OAuth page (H5).
      const code = oauthReturn(params);
      if (code) {
        const s = await api.post<PatientSession>('/api/patient/wx-oauth-login', {
          code,
          hospitalCode: DEFAULT_HOSPITAL,
        });
        done(s, 'wechat');
      }
    });
    // Once per page load: params do not change under it.
  }, []);

  const wechat = () =>
    run(async () => {
      const start = await startWechatLogin(opts!, next);
      if (!start?.code) return; // left for WeChat's OAuth page, or not available
      const s = await api.post<PatientSession>('/api/patient/wx-login', {
        code: start.code,
        hospitalCode: DEFAULT_HOSPITAL,
      });
      done(s, 'wechat');
    });
  const sandbox = (hospitalCode: string, hisPatientId: string) =>
    run(async () => {
      const s = await api.post<PatientSession>('/api/patient/sandbox-login', { hospitalCode, hisPatientId });
      done(s, 'sandbox');
    });

  const canWechat =
    opts && (surface() === 'weapp' ? Boolean(opts.miniProgramAppId) : Boolean(opts.officialAccount));
  const hospitalName = (code: string) => opts?.hospitals.find((h) => h.code === code)?.name ?? code;
  return (
    <View className="hp-page">
      <View className="hp-card">
        <Text className="hp-title">医院统一支付平台</Text>
        <View>
          <Text className="hp-muted">登录后查看待缴费用、订单和电子票据</Text>
        </View>
      </View>
      {error && (
        <View className="hp-banner hp-error" data-testid="login-error">
          {error}
        </View>
      )}
      <StateView loading={!opts && !error}>
        {canWechat && (
          <View style={{ marginBottom: '24px' }}>
            <Button className="hp-wechat-login" type="success" block loading={busy} onClick={wechat}>
              微信授权登录{opts?.sandbox ? '（沙箱）' : ''}
            </Button>
          </View>
        )}
        {opts && !canWechat && !opts.sandbox && (
          <View className="hp-banner">请在微信中打开本页面完成登录。</View>
        )}
        {opts?.sandbox && (
          <View className="hp-card" data-testid="sandbox-patients">
            <Text className="hp-title">演示环境：选择沙箱患者</Text>
            {(opts.sandboxPatients ?? []).map((p) => (
              <Cell
                key={`${p.hospitalCode}/${p.hisPatientId}`}
                className={`hp-sandbox-patient hp-sandbox-${p.hospitalCode}-${p.hisPatientId}`}
                title={`${p.name}（${p.hisPatientId}）`}
                description={hospitalName(p.hospitalCode)}
                onClick={() => !busy && sandbox(p.hospitalCode, p.hisPatientId)}
              />
            ))}
          </View>
        )}
      </StateView>
    </View>
  );
}
