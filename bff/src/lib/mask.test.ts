import { maskCardNo, maskIdNo, maskName, maskPayload, maskPhone } from './mask';

describe('masking of secrets and personal data', () => {
  it('masks ID, phone, card numbers and names', () => {
    expect(maskIdNo('110101199003071234')).toBe('110***********1234');
    expect(maskPhone('13812345678')).toBe('138****5678');
    expect(maskCardNo('6222021234567890123')).toBe('***************0123');
    expect(maskName('张三')).toBe('张*');
    expect(maskName('欧阳娜娜')).toBe('欧**娜');
  });

  it('redacts secrets and masks PII anywhere in a payload, without touching the original', () => {
    const input = {
      mchid: '1900000001',
      privateKey: '-----BEGIN PRIVATE KEY-----abc',
      headers: { Authorization: 'WECHATPAY2-SHA256-RSA2048 signature="x"', 'X-Signature': 'abc' },
      payer: { name: '张三', id_no: '110101199003071234', phone: '13812345678' },
      items: [{ cardNo: '6222021234567890123' }],
      auth_code: '134567890123456789',
    };
    const out = JSON.stringify(maskPayload(input));
    for (const leaked of [
      'PRIVATE KEY',
      'signature=',
      '110101199003071234',
      '13812345678',
      '6222021234567890123',
      '134567890123456789',
      '张三',
    ]) {
      expect(out).not.toContain(leaked);
    }
    expect(out).toContain('1900000001');
    expect(input.payer.name).toBe('张三');
  });
});
