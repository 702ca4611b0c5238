import { readFileSync } from 'node:fs';
import path from 'node:path';
import { projectConfigJson, weappProject } from './weapp';

describe('WeChat project file', () => {
  it('takes the appid from WEAPP_APPID and refuses a malformed one', () => {
    expect(weappProject({ WEAPP_APPID: 'wx0123456789abcdef' }).appid).toBe('wx0123456789abcdef');
    expect(weappProject({}).appid).toBe('touristappid');
    expect(() => weappProject({ WEAPP_APPID: 'wx123' })).toThrow(/16 hex/);
  });

  it('is committed as generated, pointing at the weapp build output', () => {
    const committed = JSON.parse(readFileSync(path.resolve(__dirname, '../../project.config.json'), 'utf8'));
    expect(committed).toEqual(projectConfigJson(weappProject({})));
    expect(committed.miniprogramRoot).toBe('client/dist/weapp/');
  });
});
