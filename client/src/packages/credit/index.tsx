import Taro, { useDidShow, usePullDownRefresh } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { PatientCard } from '@hp/shared';
import { useState } from 'react';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api, loginUrl, session } from '../../lib/app';
import { messageOf } from '../../lib/api';
import {
  creditView,
  DEBIT_STATUS_TEXT,
  familyCandidates,
  RELATIONS,
  signReturnNote,
  type CreditDebit,
  type CreditStatus,
} from '../../lib/credit';
import { beijingTime } from '../../lib/labels';
import { go, PAGES, usePageParams } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { creditReturnUrl, openBankPage } from '../../platform';
import { Button, Tag } from '../../ui/nut';

const AUTO_PAY_TEXT =
  '开通后，医院推送的门诊账单和住院押金在可用额度内由银行自动扣款，无需每次支付；扣款成功会收到消息，' +
  '超出额度或扣款失败时账单保留，可用其他方式缴费。款项按银行约定的账期还款，解约后不再扣款。';

interface CreditData {
  status: CreditStatus;
  cards: PatientCard[];
  debits: CreditDebit[];
}

/**
 * 信用就医: the agreement as the bank has it (asked on every show, so a return from the signing page shows the
 * new status), 开通 through the bank's page, 解约, family members who may pay on it, and recent debits.
 */
export default function CreditPage() {
  const params = usePageParams();
  const [returned] = useState(() => signReturnNote(params.result));
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const data = useLoad<CreditData>(async () => {
    const [status, cards, debits] = await Promise.all([
      api.get<CreditStatus>('/api/credit/status'),
      api.get<{ cards: PatientCard[] }>('/api/patient/cards'),
      api.get<{ debits: CreditDebit[] }>('/api/credit/debits'),
    ]);
    return { status, cards: cards.cards, debits: debits.debits };
  });
  useDidShow(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(PAGES.credit) });
    else void data.reload();
  });
  usePullDownRefresh(async () => {
    await data.reload();
    Taro.stopPullDownRefresh();
  });

  const act = async (fn: () => Promise<unknown>) => {
    if (busy) return;
    setBusy(true);
    setError(undefined);
    try {
      await fn();
    } catch (e) {
      setError(messageOf(e));
    } finally {
      setBusy(false);
    }
  };
  const sign = () =>
    act(async () => {
      const r = await api.post<{ pageUrl: string }>('/api/credit/sign', {
        returnUrl: creditReturnUrl(),
        autoPay: true,
      });
      await openBankPage(r.pageUrl);
    });
  const unsign = async () => {
    const { confirm } = await Taro.showModal({
      title: '解除信用就医',
      content: '解约后新账单不再自动扣款，已授权的家庭成员也一并取消。确定解约？',
    });
    if (confirm)
      await act(async () => data.setData({ ...data.data!, status: await api.post('/api/credit/unsign') }));
  };
  const addFamily = async (c: PatientCard) => {
    let tapIndex: number;
    try {
      ({ tapIndex } = await Taro.showActionSheet({ itemList: [...RELATIONS] }));
    } catch {
      return; // dismissed
    }
    await act(async () => {
      await api.post('/api/credit/family', { patientId: c.patientId, relation: RELATIONS[tapIndex] });
      await data.reload();
    });
  };
  const removeFamily = async (id: string, name: string) => {
    const { confirm } = await Taro.showModal({
      title: '移除家庭成员',
      content: `确定不再为 ${name} 自动缴费？`,
    });
    if (confirm)
      await act(async () => {
        await api.del(`/api/credit/family/${encodeURIComponent(id)}`);
        await data.reload();
      });
  };

  const d = data.data;
  const v = d && creditView(d.status);
  return (
    <View className="hp-page">
      {returned && !(params.result === 'SUCCESS' && v?.signed) && (
        <View className="hp-banner">{returned}</View>
      )}
      {error && <View className="hp-banner hp-error">{error}</View>}
      <StateView loading={data.loading && !d} error={d ? undefined : data.error} onRetry={data.reload}>
        {d && v && (
          <>
            <View className="hp-card" data-testid="credit-status">
              <View className="hp-row">
                <Text className="hp-title">先诊疗后付费</Text>
                <Tag type={v.signed ? 'success' : 'default'}>{v.label}</Tag>
              </View>
              {v.signed && (
                <>
                  <View className="hp-row hp-item">
                    <Text className="hp-muted">授信额度</Text>
                    <Money fen={d.status.limitFen} className="hp-credit-limit" />
                  </View>
                  <View className="hp-row">
                    <Text className="hp-muted">可用额度</Text>
                    <Money fen={d.status.availableFen} className="hp-credit-available" />
                  </View>
                </>
              )}
              {v.note && <Text className="hp-muted">{v.note}</Text>}
            </View>
            <View className="hp-card">
              <Text className="hp-title">自动缴费</Text>
              <View>
                <Text className="hp-muted">{AUTO_PAY_TEXT}</Text>
              </View>
            </View>
            {v.canSign && (
              <Button className="hp-credit-sign" type="primary" block loading={busy} onClick={sign}>
                开通信用就医
              </Button>
            )}
            {v.signed && (
              <>
                <View className="hp-card" data-testid="credit-family">
                  <Text className="hp-title">家庭成员</Text>
                  <View>
                    <Text className="hp-muted">已绑定就诊卡的家人，其账单也可由您的额度自动缴费。</Text>
                  </View>
                  {d.status.family.map((f) => (
                    <View className="hp-row hp-item" key={f.id}>
                      <Text>
                        {f.name}（{f.relation}）
                      </Text>
                      <Text className="hp-muted hp-family-remove" onClick={() => removeFamily(f.id, f.name)}>
                        移除
                      </Text>
                    </View>
                  ))}
                  {familyCandidates(d.cards, d.status).map((c) => (
                    <View className="hp-row hp-item" key={c.id}>
                      <Text className="hp-muted">{c.patientName}</Text>
                      <Text className="hp-family-add" onClick={() => addFamily(c)}>
                        添加为家庭成员 ›
                      </Text>
                    </View>
                  ))}
                  <Text className="hp-muted hp-link-cards" onClick={() => go(PAGES.bindCard)}>
                    绑定家人的就诊卡 ›
                  </Text>
                </View>
                <View className="hp-card" data-testid="credit-debits">
                  <Text className="hp-title">最近扣款</Text>
                  {d.debits.length === 0 && (
                    <View>
                      <Text className="hp-muted">暂无扣款</Text>
                    </View>
                  )}
                  {d.debits.slice(0, 20).map((x) => (
                    <View
                      className="hp-row hp-item"
                      key={x.id}
                      onClick={() => x.orderId && go(PAGES.order, { id: x.orderId })}
                    >
                      <Text className="hp-muted">{beijingTime(x.createdAt)}</Text>
                      <Text>{DEBIT_STATUS_TEXT[x.status]}</Text>
                      <Money fen={x.amountFen} />
                    </View>
                  ))}
                </View>
                <Button className="hp-credit-unsign" block disabled={busy} onClick={unsign}>
                  解除签约
                </Button>
              </>
            )}
          </>
        )}
      </StateView>
    </View>
  );
}
