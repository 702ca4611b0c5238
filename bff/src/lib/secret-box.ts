import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

/**
 * Encrypts secrets at rest (HIS app secrets, merchant keys) with AES-256-GCM under the configured
 * secrets key. Format: `v1.<iv b64>.<ciphertext+tag b64>`.
 */
export interface SecretBox {
  seal(plain: string): string;
  open(sealed: string): string;
}

export function createSecretBox(keyHex: string): SecretBox {
  const key = Buffer.from(keyHex, 'hex');
  if (key.length !== 32) throw new Error('secrets key must be 32 bytes');
  return {
    seal(plain) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', key, iv);
      const body = Buffer.concat([c.update(plain, 'utf8'), c.final(), c.getAuthTag()]);
      return `v1.${iv.toString('base64')}.${body.toString('base64')}`;
    },
    open(sealed) {
      const [v, ivB64, bodyB64] = sealed.split('.');
      if (v !== 'v1' || !ivB64 || !bodyB64) throw new Error('not a sealed secret');
      const body = Buffer.from(bodyB64, 'base64');
      const d = createDecipheriv('aes-256-gcm', key, Buffer.from(ivB64, 'base64'));
      d.setAuthTag(body.subarray(body.length - 16));
      return Buffer.concat([d.update(body.subarray(0, body.length - 16)), d.final()]).toString('utf8');
    },
  };
}
