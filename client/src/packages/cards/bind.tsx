import Taro from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { PatientCard, PatientSession } from '@hp/shared';
import { isValidIdNo } from '@hp/shared/id-number';
import { useState } from 'react';
import { api, session } from '../../lib/app';
import { messageOf } from '../../lib/api';
import { PAGES, usePageParams } from '../../lib/nav';
import { Button, Checkbox, Input } from '../../ui/nut';

/** Checks the form as the bff will (shared rules), so most mistakes are caught before the HIS is asked. */
export function bindInput(name: string, number: string, byId: boolean) {
  const n = name.trim();
  const no = number.trim().toUpperCase();
  if (!n) return { error: '请输入就诊人姓名' };
  if (byId) return isValidIdNo(no) ? { body: { name: n, idNo: no } } : { error: '身份证号格式不正确' };
  return /^[0-9A-Z]{4,32}$/.test(no)
    ? { body: { name: n, cardNo: no } }
    : { error: '就诊卡号为 4–32 位字母或数字' };
}

/**
 * 绑定就诊卡: the HIS looks the card (or ID number) up and checks the name; a family member's card binds the
 * same way. With no patient on the session yet (first WeChat login), the new card becomes the session's.
 */
export default function BindCardPage() {
  const params = usePageParams();
  const next = params.next;
  const [name, setName] = useState('');
  const [number, setNumber] = useState('');
  const [byId, setById] = useState(false);
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  const submit = async () => {
    const input = bindInput(name, number, byId);
    if (!input.body) return setError(input.error);
    setBusy(true);
    setError(undefined);
    try {
      const card = await api.post<PatientCard>('/api/patient/cards', input.body);
      if (!session.get()?.patient || next)
        session.replace(await api.post<PatientSession>(`/api/patient/cards/${card.id}/switch`));
      await Taro.showToast({ title: '绑定成功', icon: 'success' });
      await Taro.reLaunch({ url: next ?? PAGES.bills });
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <View className="hp-page">
      <View className="hp-card">
        <Text className="hp-title">绑定就诊卡</Text>
        <View>
          <Text className="hp-muted">医院将核对姓名与卡号；可为家人绑定。</Text>
        </View>
        <Input className="hp-input-name" placeholder="就诊人姓名" value={name} onChange={setName} />
        <Input
          className="hp-input-number"
          placeholder={byId ? '身份证号' : '就诊卡号'}
          value={number}
          onChange={setNumber}
        />
        <View onClick={() => setById(!byId)}>
          <Checkbox checked={byId} label="使用身份证号绑定" />
        </View>
      </View>
      {error && (
        <View className="hp-banner hp-error" data-testid="bind-error">
          {error}
        </View>
      )}
      <Button className="hp-bind-submit" type="primary" block loading={busy} onClick={submit}>
        {/* From a slip's checkout: back to it once the card is bound (the slip session needs the card). */}
        绑定{next ? '并继续' : ''}
      </Button>
    </View>
  );
}
