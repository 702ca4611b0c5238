import fc from 'fast-check';
import { sm2 } from 'sm-crypto-v2';
import { checkSplit, type FeeDetail } from '../bff/src/channels/insurance-types';
import { NhsaChannel } from '../bff/src/channels/nhsa/adapter';
import { checkMedInsFees } from '../bff/src/channels/wechat-medins/adapter';
import { feeDetails } from '../bff/src/modules/insurance/service';
import { NHSA_DEFAULT_RULES, NhsaSimulator, computeNhsaSplit } from '../bff/src/sandbox/nhsa/simulator';

/**
 * Split identities, property-tested (issue 5): for random bills — random items, categories, quantities and
 * amounts, a random personal-account balance, with or without the account — the split the national platform
 * returns (through the real SM4/SM2 envelope, yuan strings converted at the adapter's edge) always adds up to the
 * bills, never takes more from the account than it holds, and passes WeChat's mixed-order identities unchanged.
 */

const CATEGORIES = ['01', '02', '03', '04', '05', '06', '07', '08', '09', '10', '11', '12', '13', '14'];

const itemArb = fc.record({
  name: fc.constantFrom('阿莫西林胶囊', '血常规', '胸部CT', '雾化治疗', '一次性耗材', '挂号费'),
  category: fc.option(fc.constantFrom(...CATEGORIES), { nil: undefined }),
  quantity: fc.constantFrom(1, 2, 3, 0.5, 12),
  amountFen: fc.integer({ min: 1, max: 300_000 }),
});
const billArb = fc.record({
  hisBillNo: fc.stringMatching(/^RX[0-9]{4}$/),
  title: fc.constant('门诊费用'),
  items: fc.array(itemArb, { minLength: 0, maxLength: 6 }),
  amountFen: fc.integer({ min: 1, max: 300_000 }),
});
/** A bill's amount is its items' sum when it has items (the open API refuses anything else). */
const billsArb = fc
  .array(billArb, { minLength: 1, maxLength: 4 })
  .map((bs) =>
    bs.map((b) => (b.items.length ? { ...b, amountFen: b.items.reduce((s, i) => s + i.amountFen, 0) } : b)),
  );

describe('insurance split identities (fast-check)', () => {
  it('the fee details of any bills add up to the bills (a bill without items is one line)', () => {
    fc.assert(
      fc.property(billsArb, (bills) => {
        const lines = feeDetails('P1', bills);
        const total = bills.reduce((s, b) => s + b.amountFen, 0);
        expect(lines.reduce((s, l) => s + l.amountFen, 0)).toBe(total);
        expect(new Set(lines.map((l) => l.feedetlSn)).size).toBe(lines.length);
        for (const l of lines) expect(CATEGORIES).toContain(l.category);
      }),
      { numRuns: 500 },
    );
  });

  it('any split the rules compute adds up, and respects the account balance', () => {
    fc.assert(
      fc.property(
        billsArb,
        fc.integer({ min: 0, max: 2_000_000 }),
        fc.boolean(),
        fc.integer({ min: 0, max: 50 }),
        fc.integer({ min: 0, max: 100_000 }),
        (bills, balanceFen, useAccount, subsidyRatePct, deductibleFen) => {
          const lines = feeDetails('P1', bills);
          const split = computeNhsaSplit(lines, {
            rules: { ...NHSA_DEFAULT_RULES, deductibleFen },
            useAccount,
            balanceFen,
            subsidyRatePct,
          });
          expect(checkSplit(split)).toBe(true);
          expect(split.totalFen).toBe(bills.reduce((s, b) => s + b.amountFen, 0));
          expect(split.psnAcctFen).toBeLessThanOrEqual(useAccount ? balanceFen : 0);
          expect(
            checkMedInsFees({
              total_fee: split.totalFen,
              med_ins_gov_fee: split.fundFen,
              med_ins_self_fee: split.psnAcctFen,
              med_ins_other_fee: split.otherFen,
              med_ins_cash_fee: split.cashFen,
              wechat_pay_cash_fee: split.cashFen,
            }),
          ).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  describe('through the adapter and the simulator', () => {
    const platform = sm2.generateKeyPairHex();
    const hospital = sm2.generateKeyPairHex();
    const APP = {
      appId: 'NHSAPROP00000001ABCDEF0123456789',
      appSecret: 'PROPSECRET0000000000000000000001',
      orgCode: 'H11010500009',
    };
    let sim: NhsaSimulator;
    let channel: NhsaChannel;
    beforeAll(async () => {
      sim = await new NhsaSimulator({
        port: 0,
        platformPrivateKeyHex: platform.privateKey,
        apps: [{ ...APP, publicKeyHex: hospital.publicKey }],
      }).start();
      channel = new NhsaChannel({
        ...APP,
        orgName: '属性测试医院',
        privateKeyHex: hospital.privateKey,
        platformPublicKeyHex: platform.publicKey,
        baseUrl: sim.url,
        authPageUrl: `${sim.url}/sim/nhsa/auth`,
        admdvs: '110100',
        timeoutMs: 5000,
      });
    });
    afterAll(() => sim.close());

    it('every quote (6201) adds up to the bills and matches what the platform computed', async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(
          billsArb,
          fc.integer({ min: 0, max: 2_000_000 }),
          fc.boolean(),
          async (bills, balanceFen, useAccount) => {
            const psnNo = `P${String(++n).padStart(19, '0')}`;
            const res = await fetch(`${sim.url}/sim/nhsa/persons`, {
              method: 'POST',
              body: JSON.stringify({
                psnNo,
                name: '张三',
                idNo: '110101198503120017',
                insutype: '310',
                balanceFen,
              }),
            });
            expect(res.status).toBe(200);
            const { authCode } = (await (
              await fetch(`${sim.url}/sim/nhsa/authorize`, {
                method: 'POST',
                body: JSON.stringify({ psnNo }),
              })
            ).json()) as { authCode: string };
            const auth = await channel.authorize(authCode);
            expect(auth.result).toBe('SUCCESS');
            const orderNo = `PROP${Date.now()}${n}`;
            const details: FeeDetail[] = feeDetails(orderNo, bills);
            const totalFen = bills.reduce((s, b) => s + b.amountFen, 0);
            const out = await channel.uploadFees({
              orderNo,
              payAuthNo: auth.payAuthNo!,
              person: auth.person!,
              feeType: '01',
              medType: '11',
              visitNo: 'V1',
              deptCode: 'GEN',
              deptName: '门诊',
              useAccount,
              details,
              totalFen,
              beganAt: new Date(),
            });
            expect(out.result).toBe('SUCCESS');
            expect(checkSplit(out.split!)).toBe(true);
            expect(out.split!.totalFen).toBe(totalFen);
            expect(out.split!.psnAcctFen).toBeLessThanOrEqual(useAccount ? balanceFen : 0);
            expect(out.split).toEqual(
              computeNhsaSplit(details, { rules: NHSA_DEFAULT_RULES, useAccount, balanceFen }),
            );
          },
        ),
        { numRuns: 60 },
      );
    });
  });
});
