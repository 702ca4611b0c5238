import { Alert, Form, Input, Modal, message } from 'antd';
import { useState } from 'react';
import { api } from '../api';
import { errorText, money, REFUND_STATUS, label, yuan, yuanToFen } from '../format';

export interface RefundResult {
  id: string;
  refundNo: string;
  amountFen: number;
  status: string;
}

/**
 * 退款 (through the channel, back to where the money came from) or 现金退款 (paid back in cash at the
 * window; recorded, counted against the paid sum and pushed to the HIS). Amounts are typed in yuan.
 */
export function RefundModal(props: {
  kind: 'channel' | 'cash';
  order: { id: string; orderNo: string; refundableFen: number };
  open: boolean;
  onClose(done: boolean): void;
}) {
  const { kind, order, open, onClose } = props;
  const [form] = Form.useForm();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const cash = kind === 'cash';

  const submit = async () => {
    const v = (await form.validateFields()) as { amount: string; reason: string; receiptNo?: string };
    setBusy(true);
    setError(undefined);
    try {
      const amountFen = yuanToFen(v.amount.trim());
      const body = cash
        ? {
            amountFen,
            reason: v.reason.trim(),
            ...(v.receiptNo?.trim() ? { receiptNo: v.receiptNo.trim() } : {}),
          }
        : { amountFen, reason: v.reason.trim() };
      const r = await api<RefundResult>('POST', `/orders/${order.id}/${cash ? 'cash-refunds' : 'refunds'}`, {
        body,
      });
      void message.success(
        `${cash ? '现金退款已登记' : '退款已提交'}：${r.refundNo}，${money(r.amountFen)}，${label(REFUND_STATUS, r.status)}`,
      );
      form.resetFields();
      onClose(true);
    } catch (e) {
      setError(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Modal
      title={cash ? '现金退款（窗口退现金）' : '退款（原路退回）'}
      open={open}
      onOk={() => void submit()}
      onCancel={() => onClose(false)}
      okText={cash ? '确认登记' : '确认退款'}
      okButtonProps={{ danger: true, loading: busy }}
      destroyOnHidden
    >
      <p>
        订单 <b>{order.orderNo}</b>，可退金额 <b>{money(order.refundableFen)}</b>
      </p>
      {cash && (
        <Alert
          type="info"
          showIcon
          style={{ marginBottom: 12 }}
          message="现金退款只登记已在窗口退给患者的现金：不经过支付渠道，会计入已退金额并通知 HIS。"
        />
      )}
      {error && (
        <Alert
          type="error"
          showIcon
          message={error}
          style={{ marginBottom: 12 }}
          data-testid="refund-error"
        />
      )}
      <Form
        form={form}
        layout="vertical"
        initialValues={{ amount: yuan(order.refundableFen) }}
        preserve={false}
      >
        <Form.Item
          name="amount"
          label="退款金额（元）"
          rules={[
            { required: true, message: '请输入金额' },
            {
              validator: async (_r, v: string) => {
                let fen: number;
                try {
                  fen = yuanToFen(String(v ?? '').trim());
                } catch {
                  throw new Error('金额格式不正确，最多两位小数');
                }
                if (fen <= 0) throw new Error('金额须大于 0');
                if (fen > order.refundableFen)
                  throw new Error(`不能超过可退金额 ${money(order.refundableFen)}`);
              },
            },
          ]}
        >
          <Input prefix="¥" inputMode="decimal" data-testid="refund-amount" />
        </Form.Item>
        <Form.Item
          name="reason"
          label="退款原因"
          rules={[{ required: true, min: 2, max: 200, message: '请填写原因（2–200 字）' }]}
        >
          <Input.TextArea rows={2} maxLength={200} showCount data-testid="refund-reason" />
        </Form.Item>
        {cash && (
          <Form.Item name="receiptNo" label="收据 / 凭证号（可选）">
            <Input maxLength={64} />
          </Form.Item>
        )}
      </Form>
    </Modal>
  );
}
