import { fireEvent, render, screen } from '@testing-library/react';
import type { InsuranceOrderView, InsuranceStatus } from '@hp/shared';
import { InsuranceCard } from '../packages/pay/checkout/insurance';
import { InsuranceSplitCard } from './InsuranceSplitCard';

const split = { totalFen: 6000, fundFen: 3600, psnAcctFen: 1000, otherFen: 0, cashFen: 1400 };
const quote: InsuranceOrderView = {
  orderId: 'ord_1',
  orderNo: '2026112300000001',
  status: 'CREATED',
  settlementStatus: 'QUOTED',
  settleChannel: 'nhsa',
  split,
  expiresAt: '2026-11-23T01:00:00Z',
  pay: null,
  medicalInsurancePay: null,
  error: null,
};
const authorized: InsuranceStatus = {
  available: true,
  authorized: true,
  nameMasked: '张*',
  idNoMasked: '1101**********0017',
  insutype: '310',
  expiresAt: '2026-11-23T02:00:00Z',
  settleChannels: ['nhsa'],
};
const handlers = () => ({
  onUseAccount: jest.fn(),
  onSelfPay: jest.fn(),
  onCancelQuote: jest.fn(),
});

describe('medical-insurance components (real NutUI in jsdom)', () => {
  it('the split card: each part and the total in yuan, each line with its fen', () => {
    const { container } = render(<InsuranceSplitCard split={split} orderId="ord_1" />);
    const card = container.querySelector('[data-testid=insurance-split]')!;
    expect(card.getAttribute('data-order-id')).toBe('ord_1');
    const line = (k: string) => container.querySelector(`.hp-ins-${k}`)!;
    expect(line('fund').textContent).toBe('医保统筹¥36.00');
    expect(line('psnAcct').textContent).toBe('个人账户¥10.00');
    expect(line('other').textContent).toBe('其他¥0.00');
    expect(line('cash').textContent).toBe('个人自付（现金）¥14.00');
    expect(line('cash').getAttribute('data-fen')).toBe('1400');
    expect(container.querySelector('.hp-ins-total')!.textContent).toBe('¥60.00');
    expect(screen.getByText('医保支付 ¥46.00，个人现金支付 ¥14.00')).toBeTruthy();
    expect(screen.queryByText(/不符/)).toBeNull();
  });

  it('a split that does not add up says so', () => {
    render(<InsuranceSplitCard split={{ ...split, cashFen: 1300 }} />);
    expect(screen.getByText('医保分账与合计不符，请取消后重新获取')).toBeTruthy();
  });

  it('not authorised: the prompt, with self-pay as the way out', () => {
    const h = handlers();
    const { container } = render(
      <InsuranceCard offer={{ kind: 'authorize' }} useAccount busy={false} {...h} />,
    );
    expect(screen.getByText(/需要在国家医保服务平台授权本院/)).toBeTruthy();
    fireEvent.click(container.querySelector('.hp-ins-selfpay')!);
    expect(h.onSelfPay).toHaveBeenCalled();
  });

  it('authorised: the insured person, 险种 and balance; then the quote with 取消', () => {
    const h = handlers();
    const offer = { kind: 'ready' as const, tradeType: 'H5' as const, settleChannel: 'nhsa' as const };
    const { container, rerender } = render(
      <InsuranceCard
        offer={offer}
        status={authorized}
        balance={{ fen: 50_000 }}
        useAccount
        busy={false}
        {...h}
      />,
    );
    expect(container.querySelector('.hp-ins-name')!.textContent).toContain('张*');
    expect(screen.getByText('职工基本医疗保险')).toBeTruthy();
    expect(container.querySelector('.hp-ins-balance')!.textContent).toBe('¥500.00');
    expect(container.querySelector('[data-testid=insurance-split]')).toBeNull();
    rerender(
      <InsuranceCard
        offer={offer}
        status={authorized}
        balance={{ error: '医保余额查询失败' }}
        useAccount
        quote={quote}
        busy={false}
        {...h}
      />,
    );
    expect(screen.getByText('暂时无法查询')).toBeTruthy();
    expect(container.querySelector('.hp-ins-cash')!.textContent).toContain('¥14.00');
    fireEvent.click(container.querySelector('.hp-ins-cancel')!);
    expect(h.onCancelQuote).toHaveBeenCalled();
  });

  it('a refusal shows the platform’s message and offers self-pay', () => {
    const h = handlers();
    const { container } = render(
      <InsuranceCard
        offer={{ kind: 'ready', tradeType: 'H5', settleChannel: 'nhsa' }}
        status={authorized}
        useAccount
        error="医保费用上传失败：参保人状态异常；可选择自费支付"
        refused
        busy={false}
        {...h}
      />,
    );
    expect(container.querySelector('[data-testid=insurance-error]')!.textContent).toContain('参保人状态异常');
    fireEvent.click(container.querySelector('.hp-ins-selfpay')!);
    expect(h.onSelfPay).toHaveBeenCalled();
  });
});
