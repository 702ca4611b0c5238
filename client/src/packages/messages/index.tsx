import Taro, { useDidShow, usePullDownRefresh } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import { useState } from 'react';
import { StateView } from '../../components/StateView';
import { api, loginUrl, session } from '../../lib/app';
import { messageOf } from '../../lib/api';
import { beijingTime } from '../../lib/labels';
import { kindIcon, messageTarget, type PatientMessage, type PatientMessageList } from '../../lib/messages';
import { go, PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';

/** 消息: payments, refunds, credit debits and bills waiting, newest first; tap → read, and open what it names. */
export default function MessagesPage() {
  const list = useLoad(() => api.get<PatientMessageList>('/api/patient/messages'));
  const [error, setError] = useState<string>();
  useDidShow(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(PAGES.messages) });
    else void list.reload();
  });
  usePullDownRefresh(async () => {
    await list.reload();
    Taro.stopPullDownRefresh();
  });
  const open = async (m: PatientMessage) => {
    setError(undefined);
    if (!m.readAt) {
      try {
        const read = await api.post<PatientMessage>(`/api/patient/messages/${encodeURIComponent(m.id)}/read`);
        const data = list.data!;
        list.setData({
          messages: data.messages.map((x) => (x.id === m.id ? read : x)),
          unread: Math.max(0, data.unread - 1),
        });
      } catch (e) {
        setError(messageOf(e));
        return;
      }
    }
    const to = messageTarget(m);
    if (to) await go(to.page, to.query);
  };
  const messages = list.data?.messages ?? [];
  return (
    <View className="hp-page">
      {error && <View className="hp-banner hp-error">{error}</View>}
      <StateView
        loading={list.loading && !list.data}
        error={list.data ? undefined : list.error}
        empty={list.data && messages.length === 0 ? '暂无消息' : undefined}
        onRetry={list.reload}
      >
        {messages.map((m) => {
          const k = kindIcon(m.kind);
          return (
            <View
              className={`hp-card hp-message ${m.readAt ? '' : 'hp-unread'}`}
              key={m.id}
              data-testid="message"
              data-kind={m.kind}
              onClick={() => open(m)}
            >
              <View className="hp-message-head">
                <Text className={`hp-kind hp-kind-${k.tone}`}>{k.icon}</Text>
                <Text className="hp-title hp-message-title">{m.title}</Text>
                {!m.readAt && <Text className="hp-dot" data-testid="unread" />}
              </View>
              <View>
                <Text>{m.body}</Text>
              </View>
              <Text className="hp-muted">{beijingTime(m.createdAt)}</Text>
            </View>
          );
        })}
      </StateView>
    </View>
  );
}
