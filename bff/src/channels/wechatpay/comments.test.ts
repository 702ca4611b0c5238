import { parseCommentsText } from './adapter';

describe('WeChat Pay comments reply (plain text)', () => {
  it('reads the next offset and each comment, commas in the text kept', () => {
    const text =
      '100\r\n`2017-07-01 10:00:05,`1001690740201411100005734289,`5,`赞一个\r\n' +
      '`20170701101500,`1001690740201411100005734290,`2,`排队久, 但态度好,`还行\r\n';
    expect(parseCommentsText(text)).toEqual({
      nextOffset: 100,
      comments: [
        {
          commentedAt: new Date('2017-07-01T10:00:05+08:00'),
          channelTradeNo: '1001690740201411100005734289',
          stars: 5,
          content: '赞一个',
        },
        {
          commentedAt: new Date('2017-07-01T10:15:00+08:00'),
          channelTradeNo: '1001690740201411100005734290',
          stars: 2,
          content: '排队久, 但态度好,`还行',
        },
      ],
    });
    expect(parseCommentsText('0')).toEqual({ nextOffset: 0, comments: [] });
  });

  it('refuses what is not the documented layout', () => {
    expect(() => parseCommentsText('<xml></xml>')).toThrow(/offset/);
    expect(() => parseCommentsText('1\n`2017-07-01 10:00:05,`100169,`6,`x')).toThrow(/stars/);
    expect(() => parseCommentsText('1\n`yesterday,`100169,`5,`x')).toThrow(/time/);
    expect(() => parseCommentsText('1\n2017-07-01 10:00:05,100169,5,x')).toThrow(/line 2/);
  });
});
