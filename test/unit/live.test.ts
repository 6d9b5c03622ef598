import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { startLiveView } from '../../src/report/live.ts';

/** Reads the event stream for `ms`, optionally as a page reconnecting after event `lastId`. */
function readEvents(url: string, lastId: number | undefined, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}events`,
      { headers: lastId === undefined ? {} : { 'last-event-id': String(lastId) } },
      (res) => {
        let body = '';
        res.on('data', (d) => {
          body += d;
        });
        setTimeout(() => {
          req.destroy();
          resolve(body);
        }, ms);
      },
    );
    req.on('error', (e) => (e.message.includes('socket hang up') ? undefined : reject(e)));
    req.end();
  });
}

describe('live view', () => {
  it('numbers its events and replays to a reconnecting page only what it missed', async () => {
    const live = await startLiveView();
    try {
      expect(live.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
      for (const text of ['one', 'two', 'three']) live.listener({ kind: 'say', text });
      const first = await readEvents(live.url, undefined, 200);
      expect(first.match(/^id: /gm)?.length).toBe(3);
      const again = await readEvents(live.url, 1, 200);
      expect(again).not.toContain('"one"');
      expect(again).not.toContain('"two"');
      expect(again).toContain('id: 2\ndata: {"kind":"say","text":"three"}');
    } finally {
      await live.close();
    }
  });

  it('sends a cut with its label: who could not see whom', async () => {
    const live = await startLiveView();
    try {
      const fault = { id: 1, kind: 'partition' as const, targets: ['zk1'], peers: ['host'], start: 5 };
      live.listener({ kind: 'fault', fault, text: 'cut' });
      expect(await readEvents(live.url, undefined, 200)).toContain(`"label":"zk1 cut off from this machine's clients"`);
    } finally {
      await live.close();
    }
  });

  it('listens where the presenter says', async () => {
    const live = await startLiveView({ host: '127.0.0.3', port: 0 });
    try {
      expect(live.url).toMatch(/^http:\/\/127\.0\.0\.3:\d+\/$/);
    } finally {
      await live.close();
    }
  });
});
