import { fireEvent, render, screen, waitFor } from '@testing-library/react';
import type { BillDetail, PatientBill } from '@hp/shared';
import { buildPatientBill } from '../../test/factories';
import { groupByVisit } from '../lib/bills';
import { bindInput } from '../packages/cards/bind';
import { BillGroupCard } from './BillGroupCard';
import { Money } from './Money';
import { StateView } from './StateView';

const bill = (o: Partial<PatientBill>) =>
  buildPatientBill({ title: '门诊西药费', amountFen: 12850, hisBillNo: 'DEMO-1', ...o });

describe('components (real NutUI in jsdom)', () => {
  it('Money renders yuan from fen', () => {
    render(<Money fen={1234567} />);
    expect(screen.getByText('¥12,345.67')).toBeTruthy();
  });

  it('StateView: loading, error with retry, empty, content', () => {
    const retry = jest.fn();
    const { rerender, container } = render(<StateView loading={true} />);
    expect(screen.getByText('加载中…')).toBeTruthy();
    rerender(<StateView loading={false} error="医院系统暂时无法连接，请稍后重试" onRetry={retry} />);
    expect(screen.getByText('医院系统暂时无法连接，请稍后重试')).toBeTruthy();
    fireEvent.click(container.querySelector('.hp-retry')!);
    expect(retry).toHaveBeenCalledTimes(1);
    rerender(<StateView loading={false} empty="暂无待缴费用" />);
    expect(screen.getByText('暂无待缴费用')).toBeTruthy();
    rerender(
      <StateView loading={false}>
        <span>内容</span>
      </StateView>,
    );
    expect(screen.getByText('内容')).toBeTruthy();
  });

  it('a visit card: department, doctor, total, bills; the prescription detail loads on demand', async () => {
    const bills = [
      bill({ id: 'bill_1', items: [{ name: '阿莫西林胶囊', quantity: 2, unit: '盒', amountFen: 5600 }] }),
      bill({ id: 'bill_2', title: '血常规检查', amountFen: 2500, payingOrderId: 'ord_7' }),
    ];
    const detail: BillDetail = {
      billId: 'bill_1',
      hisBillNo: 'DEMO-1',
      status: 'UNPAID',
      amountFen: 12850,
      title: '门诊西药费',
      visitNo: 'V1',
      department: '呼吸内科',
      doctor: '陈医生',
      diagnosis: '急性支气管炎',
      prescribedAt: null,
      items: [
        {
          name: '阿莫西林胶囊',
          spec: '0.25g×24粒',
          quantity: 2,
          unit: '盒',
          unitPriceFen: 2800,
          amountFen: 5600,
          department: null,
        },
        {
          name: '复方甘草口服溶液',
          spec: '100ml',
          quantity: 1,
          unit: '瓶',
          unitPriceFen: 7250,
          amountFen: 7250,
          department: null,
        },
      ],
    };
    const loadDetail = jest.fn(async () => detail);
    const onResume = jest.fn();
    const { container } = render(
      <BillGroupCard group={groupByVisit(bills)[0]!} loadDetail={loadDetail} onResume={onResume} />,
    );
    expect(screen.getByText('呼吸内科')).toBeTruthy();
    expect(screen.getByText('¥153.50')).toBeTruthy();
    expect(screen.getByText('支付中')).toBeTruthy();
    fireEvent.click(container.querySelector('.hp-resume')!);
    expect(onResume).toHaveBeenCalledWith(bills[1]);
    fireEvent.click(container.querySelectorAll('.hp-detail-toggle')[0]!);
    await waitFor(() => expect(screen.getByText('诊断：急性支气管炎')).toBeTruthy());
    expect(loadDetail).toHaveBeenCalledWith('bill_1');
    expect(screen.getByText(/复方甘草口服溶液/)).toBeTruthy();
    expect(screen.getByText('¥72.50')).toBeTruthy();
  });

  it('the binding form is checked with the bff’s own rules before the HIS is asked', () => {
    expect(bindInput(' 张三 ', '2026000101', false)).toEqual({
      body: { name: '张三', cardNo: '2026000101' },
    });
    expect(bindInput('张三', '110101199003070011', true)).toEqual({
      body: { name: '张三', idNo: '110101199003070011' },
    });
    expect(bindInput('张三', '110101199003070012', true).error).toBe('身份证号格式不正确');
    expect(bindInput('', '2026000101', false).error).toBe('请输入就诊人姓名');
    expect(bindInput('张三', '12', false).error).toContain('4–32');
  });
});
