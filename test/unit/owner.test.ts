import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ownerAlive, ownerOf } from '../../src/runtime/owner.ts';

const onLinux = existsSync('/proc/self/stat');

describe('owner of a cluster', () => {
  it('this process is alive; another host or another user is never judged dead', () => {
    expect(ownerAlive(ownerOf(), process.pid)).toBe(true);
    expect(ownerAlive(`elsewhere/${userInfo().uid}/1/1`, 1)).toBe(true);
    expect(ownerAlive(`${hostname()}/${userInfo().uid + 1}/999999/1`, 999999)).toBe(true);
  });

  it.runIf(onLinux)('a gone process, or its pid now held by a later one, is dead', () => {
    const [host, uid, pid] = ownerOf().split('/');
    expect(ownerAlive(`${host}/${uid}/${pid}/1`, Number(pid))).toBe(false);
    expect(ownerAlive(`${host}/${uid}/4194000/1`, 4194000)).toBe(false);
  });

  it.runIf(onLinux)('a zombie is dead, though a signal would still reach it', async () => {
    // The backgrounded `sleep 0` exits at once; its parent (`exec sleep 30`) never waits for it.
    const parent = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30']);
    try {
      const zombie = Number(await new Promise<string>((r) => parent.stdout.once('data', (d) => r(String(d)))));
      // On a loaded machine the child may take a while to exit: wait (bounded) until it is a zombie.
      const isZombie = () => readFileSync(`/proc/${zombie}/stat`, 'utf8').includes(') Z');
      for (let i = 0; i < 500 && !isZombie(); i++) await new Promise((r) => setTimeout(r, 20));
      expect(isZombie()).toBe(true);
      expect(() => process.kill(zombie, 0)).not.toThrow();
      expect(ownerAlive(undefined, zombie)).toBe(false);
    } finally {
      parent.kill('SIGKILL');
    }
  });
});
