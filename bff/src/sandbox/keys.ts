import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { sm2 } from 'sm-crypto-v2';

/** An RSA key pair in PEM (PKCS#8 private, SPKI public). */
export interface PemPair {
  privatePem: string;
  publicPem: string;
}

export function rsaPair(): PemPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    publicKeyEncoding: { type: 'spki', format: 'pem' },
  });
  return { privatePem: privateKey, publicPem: publicKey };
}

/** An SM2 key pair as hex: private 64 characters, public uncompressed (`04` + x + y, 130 characters). */
export interface Sm2HexPair {
  privateKeyHex: string;
  publicKeyHex: string;
}

export function sm2Pair(): Sm2HexPair {
  const { privateKey, publicKey } = sm2.generateKeyPairHex();
  return { privateKeyHex: privateKey, publicKeyHex: publicKey };
}

/** Keys of one sandbox hospital: its WeChat merchant and its HIS app. */
export interface SandboxHospitalKeys {
  /** apiV2Key signs the v2 XML APIs (payment code); exactly 32 characters like the real one. */
  wechat: { mchId: string; appId: string; serialNo: string; apiV3Key: string; apiV2Key: string } & PemPair;
  his: { appId: string; secret: string };
  /** Alipay: the app (app_id, app key pair) and the merchant's seller id (PID). */
  alipay: { appId: string; sellerId: string } & PemPair;
  /** Bank aggregator: the API client id, the 15-digit merchant number, and our SM2 key under its key id. */
  bankpay: { appId: string; merchantNo: string; keyId: string } & Sm2HexPair;
  /** Credit pay after treatment (信用就医) at the bank: same shape as the aggregator's, its own merchant. */
  credit: { appId: string; merchantNo: string; keyId: string } & Sm2HexPair;
  /**
   * National insurance mobile payment (国家医保移动支付): the app id and secret the platform issues, the
   * institution code (定点医药机构编码) and our SM2 key. Added to older key files at load.
   */
  nhsa: NhsaAppKeys;
}

/** One hospital's app at the national insurance mobile payment platform. */
export type NhsaAppKeys = { appId: string; appSecret: string; orgCode: string } & Sm2HexPair;

/** Every key the sandbox uses. Generated at first start; never valid anywhere but the simulators. */
export interface SandboxKeys {
  wechatPlatform: { keyId: string } & PemPair;
  /** The Alipay gateway's own key pair (signs replies and notifications). */
  alipayPlatform: PemPair;
  /** The bank aggregator's own SM2 key (signs replies, notifications and statement digests). */
  bankpayPlatform: { keyId: string } & Sm2HexPair;
  /** The credit-pay bank's own SM2 key (signs replies, notifications and statement digests). */
  creditPlatform: { keyId: string } & Sm2HexPair;
  /** The national insurance mobile payment platform's own SM2 key (signs replies and 6302 notifications). */
  nhsaPlatform: Sm2HexPair;
  /** A WeChat Pay service provider that acts for hospitals in partner mode (sp_mchid). */
  wechatServiceProvider: {
    mchId: string;
    appId: string;
    serialNo: string;
    apiV3Key: string;
    /** The provider's API v2 key: signs its sub-merchants' payment codes and comment pulls. */
    apiV2Key: string;
  } & PemPair;
  hospitals: Record<string, SandboxHospitalKeys>;
}

const alnum = (n: number) =>
  randomBytes(n)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '')
    .padEnd(n, 'x')
    .slice(0, n);

/** A sandbox hospital's app at the national insurance platform (32-character id and secret like the real ones). */
export function nhsaAppKeys(index: number): NhsaAppKeys {
  return {
    // Sandbox app ids start with NHSASBX, institution codes with H9999 (no such region), so both stand out in logs.
    appId: `NHSASBX${String(index).padStart(3, '0')}${randomBytes(11).toString('hex').toUpperCase()}`,
    appSecret: alnum(32).toUpperCase(),
    orgCode: `H999900${String(index).padStart(5, '0')}`,
    ...sm2Pair(),
  };
}

export function hospitalKeys(index: number): SandboxHospitalKeys {
  return {
    wechat: {
      // Sandbox merchant ids start with 19 so they are recognisable in any log.
      mchId: `19000000${String(index).padStart(2, '0')}`,
      appId: `wxsandbox${randomBytes(4).toString('hex')}`,
      serialNo: randomBytes(20).toString('hex').toUpperCase(),
      apiV3Key: alnum(32),
      apiV2Key: alnum(32),
      ...rsaPair(),
    },
    his: { appId: `his_sandbox_${index}`, secret: randomBytes(32).toString('base64url') },
    alipay: {
      appId: `202100${String(index).padStart(10, '0')}`,
      sellerId: `208800${String(index).padStart(10, '0')}`,
      ...rsaPair(),
    },
    bankpay: {
      appId: `hpsandbox${String(index).padStart(3, '0')}`,
      // Sandbox merchant numbers start with 999 so they are recognisable in any log.
      merchantNo: `999${String(index).padStart(12, '0')}`,
      keyId: `SBX${randomBytes(6).toString('hex').toUpperCase()}`,
      ...sm2Pair(),
    },
    credit: {
      appId: `hpcredit${String(index).padStart(3, '0')}`,
      // Sandbox credit merchant numbers start with 998.
      merchantNo: `998${String(index).padStart(12, '0')}`,
      keyId: `SBXC${randomBytes(6).toString('hex').toUpperCase()}`,
      ...sm2Pair(),
    },
    nhsa: nhsaAppKeys(index),
  };
}

export function generateSandboxKeys(hospitalCodes: string[]): SandboxKeys {
  const hospitals: Record<string, SandboxHospitalKeys> = {};
  hospitalCodes.forEach((code, i) => (hospitals[code] = hospitalKeys(i + 1)));
  return {
    wechatServiceProvider: {
      mchId: '1900009999',
      appId: `wxsandboxsp${randomBytes(3).toString('hex')}`,
      serialNo: randomBytes(20).toString('hex').toUpperCase(),
      apiV3Key: alnum(32),
      apiV2Key: alnum(32),
      ...rsaPair(),
    },
    alipayPlatform: rsaPair(),
    bankpayPlatform: { keyId: `BANKSBX${randomBytes(6).toString('hex').toUpperCase()}`, ...sm2Pair() },
    creditPlatform: { keyId: `CREDITSBX${randomBytes(6).toString('hex').toUpperCase()}`, ...sm2Pair() },
    nhsaPlatform: sm2Pair(),
    wechatPlatform: {
      keyId: `PUB_KEY_ID_SANDBOX${randomBytes(8).toString('hex').toUpperCase()}`,
      ...rsaPair(),
    },
    hospitals,
  };
}

/** Loads the demo's sandbox keys from the data directory, generating them on first start. */
export function loadOrCreateSandboxKeys(dataDir: string, hospitalCodes: string[]): SandboxKeys {
  const file = path.resolve(dataDir, 'sandbox-keys.json');
  if (existsSync(file)) {
    const keys = JSON.parse(readFileSync(file, 'utf8')) as SandboxKeys;
    // Regenerated when a newer release needs keys an older file lacks.
    if (
      keys.wechatServiceProvider?.apiV2Key &&
      keys.alipayPlatform &&
      keys.bankpayPlatform &&
      keys.creditPlatform &&
      hospitalCodes.every((c) => keys.hospitals[c]?.credit) &&
      hospitalCodes.every((c) => keys.hospitals[c]?.bankpay) &&
      hospitalCodes.every((c) => keys.hospitals[c]?.alipay) &&
      hospitalCodes.every((c) => keys.hospitals[c]?.wechat.apiV2Key)
    ) {
      // Keys added by a later release without invalidating the others: topped up in place.
      let added = false;
      if (!keys.nhsaPlatform) {
        keys.nhsaPlatform = sm2Pair();
        added = true;
      }
      hospitalCodes.forEach((c, i) => {
        if (!keys.hospitals[c]!.nhsa) {
          keys.hospitals[c]!.nhsa = nhsaAppKeys(i + 1);
          added = true;
        }
      });
      if (added) writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
      return keys;
    }
  }
  const keys = generateSandboxKeys(hospitalCodes);
  mkdirSync(path.dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(keys, null, 2), { mode: 0o600 });
  return keys;
}
