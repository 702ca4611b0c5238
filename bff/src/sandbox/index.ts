import type { Config } from '@hp/config';
import { eq, sql } from 'drizzle-orm';
import type { Db } from '../db/client';
import { bills, hisApps, hospitals, merchantAccounts } from '../db/schema';
import type { SecretBox } from '../lib/secret-box';
import { assertSandboxAllowed } from './harness';
import { HisSimulator, type SimBillInput, type SimPatient } from './his/simulator';
import type { SandboxHospitalKeys, SandboxKeys } from './keys';
import { WechatPaySimulator } from './wechatpay/simulator';
import { AlipaySimulator } from './alipay/simulator';
import { BankPaySimulator } from './bankpay/simulator';
import { MisposSimulator } from './mispos/simulator';
import { CreditSimulator } from './credit/simulator';
import { NhsaSimulator } from './nhsa/simulator';

export { HisSimulator } from './his/simulator';
export { WechatPaySimulator } from './wechatpay/simulator';
export { AlipaySimulator } from './alipay/simulator';
export { BankPaySimulator } from './bankpay/simulator';
export { MisposSimulator } from './mispos/simulator';
export { CreditSimulator } from './credit/simulator';
export { NhsaSimulator } from './nhsa/simulator';

/** What provisioning needs to know of a sandbox, wherever its simulators run. */
export interface SandboxEndpoints {
  keys: SandboxKeys;
  wechat: { url: string };
  his: { url: string };
  alipay: { url: string };
  bankpay: { url: string };
  /** The credit-pay (信用就医) bank; absent: no credit account is provisioned. */
  credit?: { url: string };
  /** The national insurance mobile payment platform; absent: no insurance account is provisioned. */
  nhsa?: { url: string };
}

/** Every simulator of the sandbox, started together. */
export interface Sandbox {
  keys: SandboxKeys;
  wechat: WechatPaySimulator;
  his: HisSimulator;
  alipay: AlipaySimulator;
  bankpay: BankPaySimulator;
  /** The acquirer of the hospitals' MISPOS bank terminals (terminal statements). */
  mispos: MisposSimulator;
  /** The bank's credit pay after treatment (信用就医). */
  credit: CreditSimulator;
  /** The national healthcare-security mobile payment platform (国家医保移动支付). */
  nhsa: NhsaSimulator;
  close(): Promise<void>;
}

/** The acquirer merchant numbers (商户号) of the demo hospitals' MISPOS terminals, by hospital code. */
export const DEMO_MISPOS_MERCHANTS: Record<string, string> = {
  H001: '898330160120001',
  H002: '898330160120002',
};

/** The demo's two hospitals: a hospital group's main campus and a branch, each with its own merchant and HIS. */
export const DEMO_HOSPITALS = [
  { code: 'H001', id: 'hosp_h001', name: '示范市第一人民医院（本部）', wechatMode: 'direct' },
  // The branch is a sub-merchant of a service provider (partner mode), the other common set-up.
  { code: 'H002', id: 'hosp_h002', name: '示范市第一人民医院（东院区）', wechatMode: 'partner' },
] as const;

/** Starts every simulator (fixed ports for the demo, random in tests) and registers the sandbox keys. */
export async function startSandbox(
  config: Pick<Config, 'nodeEnv' | 'sandboxPorts'>,
  keys: SandboxKeys,
  opts: { notifyRetryDelaysMs?: number[] } = {},
): Promise<Sandbox> {
  assertSandboxAllowed(config.nodeEnv);
  const nhsa = await new NhsaSimulator({
    port: config.sandboxPorts.nhsa ?? 0,
    platformPrivateKeyHex: keys.nhsaPlatform.privateKeyHex,
    platformPublicKeyHex: keys.nhsaPlatform.publicKeyHex,
    notifyRetryDelaysMs: opts.notifyRetryDelaysMs,
  }).start();
  let wechat: WechatPaySimulator;
  try {
    wechat = await new WechatPaySimulator({
      port: config.sandboxPorts.wechatpay,
      platformKeyId: keys.wechatPlatform.keyId,
      platformPrivatePem: keys.wechatPlatform.privatePem,
      notifyRetryDelaysMs: opts.notifyRetryDelaysMs,
      // WeChat insurance pay settles the insurance part with the national platform.
      nhsaControlUrl: nhsa.url,
    }).start();
  } catch (e) {
    await nhsa.close();
    throw e;
  }
  let his: HisSimulator;
  let alipay: AlipaySimulator;
  try {
    his = await new HisSimulator(config.sandboxPorts.his).start();
  } catch (e) {
    await wechat.close();
    throw e;
  }
  try {
    alipay = await new AlipaySimulator(config.sandboxPorts.alipay, keys.alipayPlatform.privatePem).start();
  } catch (e) {
    await Promise.all([wechat.close(), his.close()]);
    throw e;
  }
  let bankpay: BankPaySimulator;
  try {
    bankpay = await new BankPaySimulator({
      port: config.sandboxPorts.bankpay,
      bankKeyId: keys.bankpayPlatform.keyId,
      bankPrivateKeyHex: keys.bankpayPlatform.privateKeyHex,
      notifyRetryDelaysMs: opts.notifyRetryDelaysMs,
    }).start();
  } catch (e) {
    await Promise.all([wechat.close(), his.close(), alipay.close()]);
    throw e;
  }
  let mispos: MisposSimulator;
  try {
    mispos = await new MisposSimulator(config.sandboxPorts.mispos ?? 0, his).start();
  } catch (e) {
    await Promise.all([wechat.close(), his.close(), alipay.close(), bankpay.close()]);
    throw e;
  }
  let credit: CreditSimulator;
  try {
    credit = await new CreditSimulator({
      port: config.sandboxPorts.credit ?? 0,
      bankKeyId: keys.creditPlatform.keyId,
      bankPrivateKeyHex: keys.creditPlatform.privateKeyHex,
      notifyRetryDelaysMs: opts.notifyRetryDelaysMs,
    }).start();
  } catch (e) {
    await Promise.all([wechat.close(), his.close(), alipay.close(), bankpay.close(), mispos.close()]);
    throw e;
  }
  const sp = keys.wechatServiceProvider;
  wechat.addMerchant({
    mchId: sp.mchId,
    appIds: [sp.appId],
    serialNo: sp.serialNo,
    publicPem: sp.publicPem,
    apiV3Key: sp.apiV3Key,
    apiV2Key: sp.apiV2Key,
    subMchIds: Object.values(keys.hospitals).map((k) => k.wechat.mchId),
  });
  for (const [code, k] of Object.entries(keys.hospitals)) {
    wechat.addMerchant({
      mchId: k.wechat.mchId,
      appIds: [k.wechat.appId],
      serialNo: k.wechat.serialNo,
      publicPem: k.wechat.publicPem,
      apiV3Key: k.wechat.apiV3Key,
      apiV2Key: k.wechat.apiV2Key,
    });
    his.addHospital({
      code,
      appId: k.his.appId,
      secret: k.his.secret,
      name: DEMO_HOSPITALS.find((h) => h.code === code)?.name,
    });
    alipay.addApp({ appId: k.alipay.appId, sellerId: k.alipay.sellerId, publicPem: k.alipay.publicPem });
    bankpay.addMerchant({
      appId: k.bankpay.appId,
      merchantNo: k.bankpay.merchantNo,
      keyId: k.bankpay.keyId,
      publicKeyHex: k.bankpay.publicKeyHex,
    });
    credit.addMerchant({
      appId: k.credit.appId,
      merchantNo: k.credit.merchantNo,
      keyId: k.credit.keyId,
      publicKeyHex: k.credit.publicKeyHex,
    });
    nhsa.addApp({
      appId: k.nhsa.appId,
      appSecret: k.nhsa.appSecret,
      publicKeyHex: k.nhsa.publicKeyHex,
      orgCode: k.nhsa.orgCode,
      orgName: DEMO_HOSPITALS.find((h) => h.code === code)?.name,
    });
    const misposMerchant = DEMO_MISPOS_MERCHANTS[code];
    if (misposMerchant)
      mispos.addMerchant({
        merchantNo: misposMerchant,
        merchantName: DEMO_HOSPITALS.find((h) => h.code === code)?.name ?? code,
        hospital: code,
      });
  }
  return {
    keys,
    wechat,
    his,
    alipay,
    bankpay,
    mispos,
    credit,
    nhsa,
    close: async () => {
      await Promise.all([
        nhsa.close(),
        wechat.close(),
        his.close(),
        alipay.close(),
        bankpay.close(),
        mispos.close(),
        credit.close(),
      ]);
    },
  };
}

/**
 * Provisions a hospital wired to the simulators: the hospital row, its WeChat merchant account (secrets
 * sealed) and its HIS app. Idempotent; simulator URLs are refreshed (random ports in tests).
 */
export async function provisionSandboxHospital(
  db: Db,
  secrets: SecretBox,
  sandbox: SandboxEndpoints,
  h: { id: string; code: string; name: string; wechatMode?: 'direct' | 'partner' },
): Promise<{ hospitalId: string; merchantAccountId: string; keys: SandboxHospitalKeys }> {
  const k = sandbox.keys.hospitals[h.code];
  if (!k) throw new Error(`no sandbox keys for hospital ${h.code}`);
  const merchantAccountId = `ma_${h.code.toLowerCase()}_wechatpay`;
  await db.transaction(async (tx) => {
    await tx.insert(hospitals).values({ id: h.id, code: h.code, name: h.name }).onConflictDoNothing();
    const partner = h.wechatMode === 'partner';
    const sp = sandbox.keys.wechatServiceProvider;
    const settings = {
      serialNo: partner ? sp.serialNo : k.wechat.serialNo,
      platformKeyId: sandbox.keys.wechatPlatform.keyId,
      platformPublicKeyPem: sandbox.keys.wechatPlatform.publicPem,
      baseUrl: sandbox.wechat.url,
      mode: partner ? 'partner' : 'direct',
      ...(partner ? { spMchId: sp.mchId, spAppId: sp.appId } : {}),
    };
    // Partner mode: the service provider's keys sign and decrypt; the hospital is the sub-merchant.
    const secretsEnc = secrets.seal(
      JSON.stringify(
        partner
          ? { privateKeyPem: sp.privatePem, apiV3Key: sp.apiV3Key, apiV2Key: sp.apiV2Key }
          : { privateKeyPem: k.wechat.privatePem, apiV3Key: k.wechat.apiV3Key, apiV2Key: k.wechat.apiV2Key },
      ),
    );
    await tx
      .insert(merchantAccounts)
      .values({
        id: merchantAccountId,
        hospitalId: h.id,
        channel: 'wechatpay',
        mchId: k.wechat.mchId,
        appId: partner ? sp.appId : k.wechat.appId,
        settings,
        secretsEnc,
      })
      .onConflictDoUpdate({
        target: merchantAccounts.id,
        set: { settings, secretsEnc, mchId: k.wechat.mchId, appId: partner ? sp.appId : k.wechat.appId },
      });
    const alipaySettings = {
      alipayPublicKeyPem: sandbox.keys.alipayPlatform.publicPem,
      baseUrl: sandbox.alipay.url,
    };
    const alipaySecrets = secrets.seal(JSON.stringify({ privateKeyPem: k.alipay.privatePem }));
    await tx
      .insert(merchantAccounts)
      .values({
        id: `ma_${h.code.toLowerCase()}_alipay`,
        hospitalId: h.id,
        channel: 'alipay',
        mchId: k.alipay.sellerId,
        appId: k.alipay.appId,
        settings: alipaySettings,
        secretsEnc: alipaySecrets,
      })
      .onConflictDoUpdate({
        target: merchantAccounts.id,
        set: {
          settings: alipaySettings,
          secretsEnc: alipaySecrets,
          mchId: k.alipay.sellerId,
          appId: k.alipay.appId,
        },
      });
    // The bank aggregator: our own contract (docs/bank-aggregator-contract.md), SM2 keys as hex.
    const bankSettings = {
      keyId: k.bankpay.keyId,
      bankKeyId: sandbox.keys.bankpayPlatform.keyId,
      bankPublicKeyHex: sandbox.keys.bankpayPlatform.publicKeyHex,
      baseUrl: sandbox.bankpay.url,
    };
    const bankSecrets = secrets.seal(JSON.stringify({ privateKeyHex: k.bankpay.privateKeyHex }));
    await tx
      .insert(merchantAccounts)
      .values({
        id: `ma_${h.code.toLowerCase()}_bankpay`,
        hospitalId: h.id,
        channel: 'bankpay',
        mchId: k.bankpay.merchantNo,
        appId: k.bankpay.appId,
        settings: bankSettings,
        secretsEnc: bankSecrets,
      })
      .onConflictDoUpdate({
        target: merchantAccounts.id,
        set: {
          settings: bankSettings,
          secretsEnc: bankSecrets,
          mchId: k.bankpay.merchantNo,
          appId: k.bankpay.appId,
        },
      });
    if (sandbox.credit) {
      // Credit pay after treatment (信用就医): the bank's credit product, its own merchant and keys.
      const creditSettings = {
        keyId: k.credit.keyId,
        bankKeyId: sandbox.keys.creditPlatform.keyId,
        bankPublicKeyHex: sandbox.keys.creditPlatform.publicKeyHex,
        baseUrl: sandbox.credit.url,
      };
      const creditSecrets = secrets.seal(JSON.stringify({ privateKeyHex: k.credit.privateKeyHex }));
      const creditAccount = {
        settings: creditSettings,
        secretsEnc: creditSecrets,
        mchId: k.credit.merchantNo,
        appId: k.credit.appId,
      };
      await tx
        .insert(merchantAccounts)
        .values({
          id: `ma_${h.code.toLowerCase()}_credit`,
          hospitalId: h.id,
          channel: 'credit',
          ...creditAccount,
        })
        .onConflictDoUpdate({ target: merchantAccounts.id, set: creditAccount });
    }
    if (sandbox.nhsa) {
      // Medical insurance: the national platform (authorisation, 6201/6202/6203/6301/6401, balance) and, for a
      // direct WeChat merchant, WeChat insurance pay (the mixed order) on the same merchant keys.
      const nhsaAccount = {
        settings: {
          orgName: h.name,
          platformPublicKeyHex: sandbox.keys.nhsaPlatform.publicKeyHex,
          baseUrl: sandbox.nhsa.url,
          authPageUrl: `${sandbox.nhsa.url}/sim/nhsa/auth`,
          admdvs: '110100',
        },
        secretsEnc: secrets.seal(
          JSON.stringify({ appSecret: k.nhsa.appSecret, privateKeyHex: k.nhsa.privateKeyHex }),
        ),
        mchId: k.nhsa.orgCode,
        appId: k.nhsa.appId,
      };
      await tx
        .insert(merchantAccounts)
        .values({ id: `ma_${h.code.toLowerCase()}_nhsa`, hospitalId: h.id, channel: 'nhsa', ...nhsaAccount })
        .onConflictDoUpdate({ target: merchantAccounts.id, set: nhsaAccount });
      if (!partner) {
        const medinsAccount = {
          settings: {
            serialNo: k.wechat.serialNo,
            platformKeyId: sandbox.keys.wechatPlatform.keyId,
            platformPublicKeyPem: sandbox.keys.wechatPlatform.publicPem,
            baseUrl: sandbox.wechat.url,
            cityId: '110100',
            medInstName: h.name,
            medInstNo: k.nhsa.orgCode,
          },
          secretsEnc: secrets.seal(
            JSON.stringify({ privateKeyPem: k.wechat.privatePem, apiV3Key: k.wechat.apiV3Key }),
          ),
          mchId: k.wechat.mchId,
          appId: k.wechat.appId,
        };
        await tx
          .insert(merchantAccounts)
          .values({
            id: `ma_${h.code.toLowerCase()}_wxmedins`,
            hospitalId: h.id,
            channel: 'wxmedins',
            ...medinsAccount,
          })
          .onConflictDoUpdate({ target: merchantAccounts.id, set: medinsAccount });
      }
    }
    const secretEnc = secrets.seal(k.his.secret);
    await tx
      .insert(hisApps)
      .values({
        appId: k.his.appId,
        hospitalId: h.id,
        name: `${h.name} HIS（沙箱）`,
        secretEnc,
        callbackBaseUrl: sandbox.his.url,
      })
      .onConflictDoUpdate({ target: hisApps.appId, set: { secretEnc, callbackBaseUrl: sandbox.his.url } });
  });
  return { hospitalId: h.id, merchantAccountId, keys: k };
}

/**
 * Demo patients (sandbox data, not real people): hospital card numbers and ID numbers are made up (the ID
 * numbers only carry a valid check character). P0003 is 张三's child, for binding a family member's card.
 */
export const DEMO_PATIENTS: SimPatient[] = [
  {
    hospital: 'H001',
    patientId: 'P0001',
    name: '张三',
    cardNo: '2026000101',
    cardType: 'HOSPITAL_CARD',
    idNo: '110101199003070011',
  },
  {
    hospital: 'H001',
    patientId: 'P0002',
    name: '李四',
    cardNo: '2026000102',
    cardType: 'HOSPITAL_CARD',
    idNo: '110101198511120025',
  },
  {
    hospital: 'H001',
    patientId: 'P0003',
    name: '张小明',
    cardNo: '2026000103',
    cardType: 'HOSPITAL_CARD',
    idNo: '110101201506180044',
  },
  {
    hospital: 'H002',
    patientId: 'P1001',
    name: '王五',
    cardNo: 'M3301000001',
    cardType: 'MEDICARE_CARD',
    idNo: '310104197805200030',
  },
];

/** The demo's bills with their prescription detail. Fixed HIS bill numbers: the HIS simulator forgets on restart. */
const DEMO_BILLS: (SimBillInput & { push: boolean })[] = [
  {
    hospital: 'H001',
    patientId: 'P0001',
    hisBillNo: 'DEMO-H001-0001',
    title: '门诊西药费',
    department: '呼吸内科',
    doctor: '陈医生',
    diagnosis: '急性支气管炎',
    visitNo: 'V20261123001',
    amountFen: 12850,
    items: [
      {
        name: '阿莫西林胶囊',
        spec: '0.25g×24粒',
        quantity: 2,
        unit: '盒',
        unitPriceFen: 2800,
        amountFen: 5600,
        department: '门诊西药房',
        category: '09',
      },
      {
        name: '复方甘草口服溶液',
        spec: '100ml',
        quantity: 1,
        unit: '瓶',
        unitPriceFen: 7250,
        amountFen: 7250,
        department: '门诊西药房',
        category: '09',
      },
    ],
    push: true,
  },
  {
    hospital: 'H001',
    patientId: 'P0001',
    hisBillNo: 'DEMO-H001-0002',
    title: '血常规检查',
    department: '检验科',
    doctor: '陈医生',
    diagnosis: '急性支气管炎',
    visitNo: 'V20261123001',
    amountFen: 2500,
    items: [
      {
        name: '血细胞分析（五分类）',
        quantity: 1,
        unit: '次',
        amountFen: 2500,
        department: '检验科',
        category: '04',
      },
    ],
    push: true,
  },
  {
    // Medical insurance in the demo: fund, personal account and cash all appear in this bill's quote.
    hospital: 'H001',
    patientId: 'P0001',
    hisBillNo: 'DEMO-H001-0004',
    title: '门诊治疗费',
    department: '呼吸内科',
    doctor: '陈医生',
    diagnosis: '急性支气管炎',
    visitNo: 'V20261123001',
    amountFen: 8800,
    items: [
      {
        name: '雾化吸入治疗',
        quantity: 2,
        unit: '次',
        amountFen: 3000,
        department: '治疗室',
        category: '05',
      },
      {
        name: '一次性雾化器',
        quantity: 1,
        unit: '个',
        amountFen: 1800,
        department: '治疗室',
        category: '08',
      },
      {
        name: '自费营养液',
        quantity: 1,
        unit: '瓶',
        amountFen: 4000,
        department: '门诊西药房',
        category: '14',
      },
    ],
    push: true,
  },
  {
    hospital: 'H001',
    patientId: 'P0002',
    hisBillNo: 'DEMO-H001-0003',
    title: '挂号费',
    department: '骨科',
    doctor: '刘医生',
    visitNo: 'V20261123002',
    amountFen: 1500,
    items: [],
    push: true,
  },
  {
    hospital: 'H002',
    patientId: 'P1001',
    hisBillNo: 'DEMO-H002-0001',
    title: 'CT 检查费',
    department: '放射科',
    doctor: '赵医生',
    diagnosis: '胸痛待查',
    visitNo: 'V20261123101',
    amountFen: 32000,
    items: [{ name: '胸部 CT 平扫', quantity: 1, unit: '次', amountFen: 32000, department: '放射科' }],
    push: true,
  },
  {
    // H002 runs in pull mode in the demo: this bill only the HIS has, until the patient looks.
    hospital: 'H002',
    patientId: 'P1001',
    hisBillNo: 'DEMO-H002-0002',
    title: '门诊中药费',
    department: '中医科',
    doctor: '孙医生',
    diagnosis: '胸痛待查',
    visitNo: 'V20261123101',
    amountFen: 8640,
    items: [
      { name: '丹参', spec: '10g', quantity: 12, unit: '袋', unitPriceFen: 420, amountFen: 5040 },
      { name: '川芎', spec: '10g', quantity: 12, unit: '袋', unitPriceFen: 300, amountFen: 3600 },
    ],
    push: false,
  },
];

/**
 * Seeds the demo: both hospitals (H002 pulls bills from its HIS), the HIS simulator's patients, visits and
 * prescriptions (every boot: the simulator keeps nothing), a cash and a MISPOS card payment at the window in
 * its ledger, the hospitals' reconciliation settings (HIS ledger pulled, MISPOS acquirer), and —
 * when no bill exists yet — the pending bills pushed through the real signed open API.
 */
export async function seedDemo(
  db: Db,
  secrets: SecretBox,
  sandbox: Sandbox,
  platformUrl: string,
): Promise<{ pushedBills: number }> {
  for (const h of DEMO_HOSPITALS) await provisionSandboxHospital(db, secrets, sandbox, h);
  await db.update(hisApps).set({ billMode: 'pull' }).where(eq(hisApps.hospitalId, 'hosp_h002'));
  sandbox.his.setPlatformUrl(platformUrl);
  for (const p of DEMO_PATIENTS) sandbox.his.addPatient(p);
  const cash = sandbox.his.createBill({
    hospital: 'H001',
    patientId: 'P0002',
    hisBillNo: 'DEMO-H001-W001',
    title: '门诊诊查费',
    department: '骨科',
    doctor: '刘医生',
    visitNo: 'V20261123002',
    amountFen: 2000,
  });
  sandbox.his.payAtWindow('H001', cash.hisBillNo, { channel: 'cash' });
  // A bank card on the window's MISPOS terminal: in the HIS ledger with its reference number, and on the
  // acquirer's terminal statement (the MISPOS simulator builds it from the HIS's records).
  const card = sandbox.his.createBill({
    hospital: 'H001',
    patientId: 'P0002',
    hisBillNo: 'DEMO-H001-W002',
    title: '康复理疗费',
    department: '骨科',
    doctor: '刘医生',
    visitNo: 'V20261123002',
    amountFen: 6800,
  });
  sandbox.his.payAtWindow('H001', card.hisBillNo, { channel: 'mispos' });
  // Reconciliation in the demo: the HIS ledger is pulled from the HIS simulator, and H001's MISPOS
  // terminals are reconciled against the acquirer simulator's statement.
  for (const h of DEMO_HOSPITALS) {
    const merchantNo = DEMO_MISPOS_MERCHANTS[h.code];
    const recon = {
      hisLedgerMode: 'pull',
      ...(merchantNo
        ? {
            mispos: {
              acquirer: '示范银行（沙箱收单）',
              merchantNo,
              merchantName: h.name,
              statement: { url: sandbox.mispos.statementUrlTemplate, publishHour: 9 },
            },
          }
        : {}),
    };
    await db
      .update(hospitals)
      .set({ settings: sql`${hospitals.settings} || ${JSON.stringify(recon)}::jsonb` })
      .where(eq(hospitals.id, h.id));
  }
  const [{ n }] = (await db.select({ n: sql<number>`count(*)::int` }).from(bills)) as [{ n: number }];
  let pushed = 0;
  for (const { push, ...b } of DEMO_BILLS) {
    if (!push || n > 0) {
      sandbox.his.createBill(b);
      continue;
    }
    const r = await sandbox.his.pushBill(b);
    if (r.status !== 200)
      throw new Error(`demo seed: the open API refused a bill (${r.status} ${JSON.stringify(r.body)})`);
    pushed++;
  }
  return { pushedBills: pushed };
}
