import Taro, { useDidShow, usePullDownRefresh } from '@tarojs/taro';
import { Text, View } from '@tarojs/components';
import { Money } from '../../components/Money';
import { StateView } from '../../components/StateView';
import { api, loginUrl, session } from '../../lib/app';
import { depositState, settlementLines, type InpatientAdmission } from '../../lib/inpatient';
import { beijingTime } from '../../lib/labels';
import { go, PAGES } from '../../lib/nav';
import { useLoad } from '../../lib/use-load';
import { Button, Tag } from '../../ui/nut';

/**
 * 住院押金: the patient's stays with what is held and each deposit the HIS asked for. A deposit is a bill of the
 * platform's own (`YJ:…`), so an unpaid one is paid through the ordinary checkout, with every channel.
 */
export default function InpatientPage() {
  const list = useLoad(
    async () => (await api.get<{ admissions: InpatientAdmission[] }>('/api/inpatient/admissions')).admissions,
  );
  useDidShow(() => {
    if (!session.get()) void Taro.redirectTo({ url: loginUrl(PAGES.inpatient) });
    else void list.reload();
  });
  usePullDownRefresh(async () => {
    await list.reload();
    Taro.stopPullDownRefresh();
  });
  return (
    <View className="hp-page">
      <StateView
        loading={list.loading && !list.data}
        error={list.data ? undefined : list.error}
        empty={list.data && list.data.length === 0 ? '暂无住院记录' : undefined}
        onRetry={list.reload}
      >
        {list.data?.map((a) => (
          <View className="hp-card" key={a.admissionNo} data-testid="admission">
            <View className="hp-row">
              <Text className="hp-title">{a.department ?? '住院'}</Text>
              <Tag type={a.status === 'ADMITTED' ? 'primary' : 'default'}>
                {a.status === 'ADMITTED' ? '在院' : '已出院结算'}
              </Tag>
            </View>
            <Text className="hp-muted">
              住院号 {a.admissionNo}
              {a.ward ? ` · ${a.ward}` : ''} · {beijingTime(a.admittedAt)} 入院
            </Text>
            <View className="hp-row hp-item">
              <Text>押金余额</Text>
              <Money fen={a.balanceFen} />
            </View>
            {a.deposits.map((d) => {
              const st = depositState(d);
              return (
                <View className="hp-item" key={d.id} data-testid="deposit">
                  <View className="hp-row">
                    <Text className="hp-muted">
                      {beijingTime(d.createdAt)} {st.text}
                    </Text>
                    <Money fen={d.amountFen} />
                  </View>
                  {st.payable && (
                    <View className="hp-links" style={{ marginTop: '8px', marginBottom: 0 }}>
                      <Button
                        className="hp-pay-deposit"
                        size="small"
                        type="primary"
                        onClick={() => go(PAGES.checkout, { bills: d.billId })}
                      >
                        缴押金
                      </Button>
                    </View>
                  )}
                </View>
              );
            })}
            {(a.settlements ?? []).map((s) => {
              const v = settlementLines(s);
              return (
                <View className="hp-item" key={`${s.hisSettlementNo}-${s.version}`} data-testid="settlement">
                  <View className="hp-row">
                    <Text>{v.title}</Text>
                    <Tag
                      type={
                        s.status === 'REVERSED' ? 'default' : s.status === 'SETTLED' ? 'success' : 'warning'
                      }
                    >
                      {v.state}
                    </Tag>
                  </View>
                  {v.lines.map((l) => (
                    <View className={`hp-row hp-settlement-${l.key}`} key={l.key}>
                      <Text className="hp-muted">
                        {l.label}
                        {l.note ? `（${l.note}）` : ''}
                      </Text>
                      <Money fen={l.fen} />
                    </View>
                  ))}
                  {s.status === 'REVERSED' && s.reversalReason && (
                    <Text className="hp-muted">撤销原因：{s.reversalReason}</Text>
                  )}
                  <Text className="hp-muted">
                    结算单号 {s.hisSettlementNo} · {beijingTime(s.createdAt)}
                  </Text>
                  {v.payBillId && (
                    <View className="hp-links" style={{ marginTop: '8px', marginBottom: 0 }}>
                      <Button
                        className="hp-pay-settlement"
                        size="small"
                        type="primary"
                        onClick={() => go(PAGES.checkout, { bills: v.payBillId })}
                      >
                        补缴
                      </Button>
                    </View>
                  )}
                </View>
              );
            })}
          </View>
        ))}
      </StateView>
    </View>
  );
}
