import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { docker } from '../../src/runtime/docker.ts';
import { leftovers, midlab } from '../helpers/docker.ts';
import { tempDir } from '../helpers/temp.ts';

const S3CMD = '/usr/bin/s3cmd';

describe.skipIf(!existsSync(S3CMD))('minio endpoint from `midlab up minio --json`, with s3cmd', () => {
  afterAll(() => {
    midlab('down', 'minio');
  });

  it('puts and gets an object through the printed endpoint, and down removes everything', async () => {
    const r = midlab('up', 'minio', '--json');
    expect(r.code, r.err).toBe(0);
    const { endpoints } = JSON.parse(r.out) as { endpoints: Record<string, string | string[]> };
    const endpoint = endpoints.minio1 as string;
    expect(endpoint).toMatch(/^127\.0\.0\.1:\d+$/);
    // The root credentials are the nodes' environment (random per cluster).
    const c = (await docker().listContainers({ filters: JSON.stringify({ label: ['dev.midlab.lab=minio'] }) }))[0];
    const env = ((
      await docker()
        .getContainer(c?.Id ?? '')
        .inspect()
    ).Config.Env ?? []) as string[];
    const get = (k: string) => env.find((e) => e.startsWith(`${k}=`))?.slice(k.length + 1) ?? '';
    const dir = tempDir('s3cmd');
    const args = [
      `--host=${endpoint}`,
      `--host-bucket=${endpoint}`,
      '--no-ssl',
      `--access_key=${get('MINIO_ROOT_USER')}`,
      `--secret_key=${get('MINIO_ROOT_PASSWORD')}`,
      '--region=us-east-1',
      '-c',
      join(dir, 'none.cfg'),
    ];
    writeFileSync(join(dir, 'none.cfg'), '');
    const s3 = (...a: string[]) => spawnSync(S3CMD, [...args, ...a], { encoding: 'utf8', timeout: 30_000 });
    writeFileSync(join(dir, 'in.txt'), 'hello from s3cmd\n');
    expect(s3('mb', 's3://midlab-s3cmd').status).toBe(0);
    expect(s3('put', join(dir, 'in.txt'), 's3://midlab-s3cmd/hello.txt').status).toBe(0);
    expect(s3('get', 's3://midlab-s3cmd/hello.txt', join(dir, 'out.txt')).status).toBe(0);
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('hello from s3cmd\n');

    expect(midlab('down', 'minio').code).toBe(0);
    expect(await leftovers('minio')).toEqual({ containers: 0, networks: 0 });
  });
});
