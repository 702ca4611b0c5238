import ExcelJS from 'exceljs';
import type { Context } from 'koa';
import type { PassThrough } from 'node:stream';
import { contentDisposition, sendExportFile, type ExportColumn } from './table-export';

interface Line {
  name: string;
  n?: number;
  fen?: number | null;
}
const COLUMNS: readonly ExportColumn<Line>[] = [
  { header: '名称', value: (r) => r.name },
  { header: '笔数', count: true, value: (r) => r.n },
  { header: '金额', money: true, nullText: '未获取', value: (r) => r.fen },
];
const LINES: Line[] = [
  { name: '微信支付', n: 3, fen: 123456 },
  { name: '=HYPERLINK("x")', n: 1, fen: -1 },
  { name: '含,逗号"引号', n: 2, fen: null },
  { name: '线下', fen: undefined },
];

function fakeCtx() {
  const headers: Record<string, string> = {};
  const errors: unknown[] = [];
  const ctx = {
    set: (k: string, v: string) => void (headers[k.toLowerCase()] = v),
    log: { error: (...a: unknown[]) => errors.push(a) },
  } as unknown as Context;
  return { ctx, headers, errors };
}

async function collect(out: PassThrough): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of out) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

describe('table export', () => {
  it('names the file in RFC 5987 with an ASCII fallback', () => {
    expect(contentDisposition('对账报表 (10月)*.xlsx', 'recon report.xlsx')).toBe(
      `attachment; filename="recon_report.xlsx"; filename*=UTF-8''%E5%AF%B9%E8%B4%A6%E6%8A%A5%E8%A1%A8%20%2810%E6%9C%88%29%2A.xlsx`,
    );
  });

  it('CSV: BOM, quoting, defused formulas, yuan from fen, totals in fen', async () => {
    const { ctx, headers } = fakeCtx();
    const out = sendExportFile(ctx, { format: 'csv', name: '测试', asciiName: 'test' }, async (f) => {
      const t = f.table('表', COLUMNS);
      for (const l of LINES) t.row(l);
      await t.end((n) => `合计（${n} 行）`);
    });
    const text = (await collect(out)).toString('utf8');
    expect(headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(headers['content-disposition']).toContain(`filename*=UTF-8''%E6%B5%8B%E8%AF%95.csv`);
    expect(text.split('\r\n')).toEqual([
      '\uFEFF名称,笔数,金额',
      '微信支付,3,1234.56',
      `"'=HYPERLINK(""x"")",1,-0.01`,
      '"含,逗号""引号",2,未获取',
      '线下,,',
      '合计（4 行）,6,1234.55',
      '',
    ]);
  });

  it('Excel: streamed sheets with a two-decimal yuan format and a bold totals row', async () => {
    const { ctx, headers } = fakeCtx();
    const out = sendExportFile(ctx, { format: 'xlsx', name: '测试', asciiName: 'test' }, async (f) => {
      const a = f.table('第一页', COLUMNS);
      for (const l of LINES) a.row(l);
      await a.flush();
      await a.end();
      const b = f.table('第二页', COLUMNS);
      await b.end(null);
    });
    const wb = new ExcelJS.Workbook();
    await wb.xlsx.load((await collect(out)) as unknown as ArrayBuffer);
    expect(headers['content-type']).toMatch(/spreadsheetml/);
    expect(wb.worksheets.map((w) => w.name)).toEqual(['第一页', '第二页']);
    const ws = wb.getWorksheet('第一页')!;
    expect(ws.getRow(1).values).toEqual([undefined, '名称', '笔数', '金额']);
    expect(ws.getRow(2).getCell(3).value).toBe(1234.56);
    expect(ws.getRow(2).getCell(3).numFmt).toBe('#,##0.00');
    expect(ws.getRow(4).getCell(3).value).toBe('未获取');
    expect(ws.getRow(6).values).toEqual([undefined, '合计', 6, 1234.55]);
    expect(ws.getRow(6).font?.bold).toBe(true);
    expect(wb.getWorksheet('第二页')!.rowCount).toBe(1);
  });

  it('a failure while streaming cuts the file short and is logged', async () => {
    const { ctx, errors } = fakeCtx();
    const out = sendExportFile(ctx, { format: 'csv', name: 'x', asciiName: 'x' }, async (f) => {
      const t = f.table('表', COLUMNS);
      t.row(LINES[0]!);
      throw new Error('database went away');
    });
    await expect(collect(out)).rejects.toThrow('database went away');
    expect(errors).toHaveLength(1);
  });
});
