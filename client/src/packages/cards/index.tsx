import Taro, { useDidShow } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import type { PatientCard, PatientSession } from '@hp/shared';
import { useState } from 'react';
import { StateView } from '../../components/StateView';
import { api, session } from '../../lib/app';
import { messageOf } from '../../lib/api';
import { go, home, PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { Button, Tag } from '../../ui/nut';

const CARD_TYPE: Record<PatientCard['cardType'], string> = {
  HOSPITAL_CARD: '就诊卡',
  MEDICARE_CARD: '医保卡',
  ID_CARD: '身份证',
};

/** 就诊人: the cards bound to the account (own and family members'), switch between them, unbind. */
export default function CardsPage() {
  const cards = useLoad(async () => (await api.get<{ cards: PatientCard[] }>('/api/patient/cards')).cards);
  const [error, setError] = useState<string>();
  useDidShow(() => void cards.reload());
  const current = session.get();

  const switchTo = async (c: PatientCard) => {
    try {
      setError(undefined);
      session.replace(await api.post<PatientSession>(`/api/patient/cards/${c.id}/switch`));
      await home();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  const unbind = async (c: PatientCard) => {
    const { confirm } = await Taro.showModal({
      title: '解除绑定',
      content: `确定解除 ${c.patientName} 的${CARD_TYPE[c.cardType]}（${c.cardNoMasked}）？`,
    });
    if (!confirm) return;
    try {
      setError(undefined);
      await api.del(`/api/patient/cards/${c.id}`);
      await cards.reload();
    } catch (e) {
      setError(messageOf(e));
    }
  };
  return (
    <View className="hp-page">
      {current?.patient && (
        <View className="hp-card">
          <Text className="hp-muted">当前就诊人</Text>
          <View>
            <Text className="hp-title">{current.patient.name}</Text>
          </View>
        </View>
      )}
      {error && <View className="hp-banner hp-error">{error}</View>}
      <StateView
        loading={cards.loading && !cards.data}
        error={cards.data ? undefined : cards.error}
        empty={cards.data && cards.data.length === 0 ? '还没有绑定就诊卡' : undefined}
        onRetry={cards.reload}
      >
        {cards.data?.map((c) => (
          <View className="hp-card hp-bound-card" key={c.id} data-testid="card">
            <View className="hp-row">
              <Text className="hp-title">{c.patientName}</Text>
              {c.current ? <Tag type="success">当前</Tag> : <Tag>{CARD_TYPE[c.cardType]}</Tag>}
            </View>
            <Text className="hp-muted">
              {CARD_TYPE[c.cardType]} {c.cardNoMasked}
            </Text>
            <View className="hp-links" style={{ marginTop: '12px', marginBottom: 0 }}>
              {!c.current && (
                <Button className="hp-switch" size="small" type="primary" onClick={() => switchTo(c)}>
                  切换为此就诊人
                </Button>
              )}
              <Button className="hp-unbind" size="small" onClick={() => unbind(c)}>
                解除绑定
              </Button>
            </View>
          </View>
        ))}
      </StateView>
      <Button className="hp-bind" type="primary" block onClick={() => go(PAGES.bindCard)}>
        绑定就诊卡
      </Button>
    </View>
  );
}
