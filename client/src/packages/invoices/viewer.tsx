import { Image, Text, View } from '@tarojs/components';
import { createElement, useEffect, useState } from 'react';
import { StateView } from '../../components/StateView';
import { usePageParams } from '../../lib/nav';
import { session } from '../../lib/app';
import { openPdf, sessionFile, surface } from '../../platform';
import { Button } from '../../ui/nut';

/**
 * 票据查看: the file is fetched with the session (it is the patient's own document, never a public URL).
 * An image is shown in the page; a PDF opens in the mini-program's document viewer, or in a frame in the H5.
 */
export default function InvoiceViewerPage() {
  const params = usePageParams();
  const path = `/api/orders/${encodeURIComponent(params.id ?? '')}/invoices/${encodeURIComponent(params.no ?? '')}/file`;
  const pdf = (params.type ?? '') === 'application/pdf';
  const [url, setUrl] = useState<string>();
  const [error, setError] = useState<string>();
  const load = async () => {
    setError(undefined);
    try {
      const local = await sessionFile(path, session.get()?.token ?? '');
      setUrl(local);
      if (pdf) await openPdf(local);
    } catch {
      setError('票据文件暂时无法获取，请稍后重试');
    }
  };
  useEffect(() => {
    void load();
  }, [path]);
  const h5 = surface() !== 'weapp';
  return (
    <View className="hp-page">
      <StateView loading={!url && !error} error={error} onRetry={load}>
        <View className="hp-card" data-testid="invoice-viewer">
          <Text className="hp-muted">票据号 {params.no}</Text>
          {url && !pdf && <Image className="hp-viewer" src={url} mode="widthFix" />}
          {url &&
            pdf &&
            h5 &&
            createElement('iframe', { className: 'hp-viewer', src: url, title: '电子票据' })}
          {url && pdf && !h5 && (
            <Button className="hp-open-pdf" type="primary" onClick={() => openPdf(url)}>
              打开 PDF
            </Button>
          )}
        </View>
      </StateView>
    </View>
  );
}
