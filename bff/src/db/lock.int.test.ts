import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DataDirLockedError, lockDataDir } from './client';

describe('PGlite data directory lock', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'hp-lock-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses a second process with a clear message while the first lives', async () => {
    const lockFile = JSON.stringify(path.join(dir, 'LOCK'));
    const holder = spawn(process.execPath, [
      '-e',
      `require('fs').writeFileSync(${lockFile}, String(process.pid)); process.stdout.write('locked'); setInterval(() => {}, 1000)`,
    ]);
    try {
      // Wait for the holder to say it has the lock (a fixed sleep is not enough on a busy machine).
      await new Promise<void>((resolve, reject) => {
        holder.stdout.once('data', () => resolve());
        holder.once('exit', (code) => reject(new Error(`holder exited ${code}`)));
      });
      expect(() => lockDataDir(dir)).toThrow(DataDirLockedError);
      expect(() => lockDataDir(dir)).toThrow(
        new RegExp(`in use by another process \\(pid ${holder.pid}\\).*DATA_DIR`),
      );
      expect(readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(String(holder.pid)); // the holder keeps it
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('takes over the lock of a dead process and releases its own', () => {
    writeFileSync(path.join(dir, 'LOCK'), '999999999');
    const release = lockDataDir(dir);
    expect(readFileSync(path.join(dir, 'LOCK'), 'utf8')).toBe(String(process.pid));
    release();
    expect(existsSync(path.join(dir, 'LOCK'))).toBe(false);
  });
});
