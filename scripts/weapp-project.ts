// `npm run weapp:project`: writes project.config.json from config (WEAPP_APPID).
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { projectConfigJson, weappProject } from '@hp/config';

const file = path.resolve(__dirname, '..', 'project.config.json');
writeFileSync(file, JSON.stringify(projectConfigJson(weappProject(process.env)), null, 2) + '\n');
console.log(`wrote ${file}`);
