import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { tar } from '../../src/runtime/tar.ts';

describe('tar', () => {
  it('writes an archive GNU tar reads, with modes and contents intact', () => {
    const archive = tar([
      { path: '/conf/zoo.cfg', content: 'tickTime=500\n' },
      { path: '/data/myid', content: '3\n', mode: 0o600 },
    ]);
    const list = spawnSync('tar', ['-tvf', '-'], { input: archive, encoding: 'utf8' });
    expect(list.status).toBe(0);
    expect(list.stdout).toMatch(/-rw-r--r-- .* conf\/zoo\.cfg/);
    expect(list.stdout).toMatch(/-rw------- .* data\/myid/);
    const cat = spawnSync('tar', ['-xOf', '-', 'conf/zoo.cfg'], { input: archive, encoding: 'utf8' });
    expect(cat.stdout).toBe('tickTime=500\n');
  });
});
