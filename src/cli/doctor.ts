import { existsSync } from 'node:fs';
import { freemem } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe } from '../errors.ts';
import { engineInfo } from '../runtime/docker.ts';
import { imageLabel, ROOT_IMAGE, recipes } from '../runtime/images.ts';
import { HOST_IP, isIpLiteral } from '../runtime/ports.ts';
import { type Command, parse } from './args.ts';

interface Finding {
  what: string;
  ok: boolean;
  detail: string;
  remedy?: string;
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'check that this machine can run labs (engine, Node, images, memory)',
  help: `Usage: midlab doctor [--json]

Checks the Docker engine (reachable, version, where ports are published), Node, every
stack image, the host tools the image recipes use (needed only for images not built
yet), and free memory; prints each problem with its remedy. Exit 0 only when everything is ready,
3 otherwise.`,
  async run(args) {
    const { values } = parse('doctor', args, { json: { type: 'boolean' } });
    const findings: Finding[] = [];
    const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
    findings.push({
      what: 'node',
      ok: major > 22 || (major === 22 && minor >= 18),
      detail: process.version,
      remedy: 'install Node 24 LTS, or run `npm run setup`',
    });
    let engineOk = false;
    try {
      const e = await engineInfo();
      engineOk = true;
      findings.push({
        what: 'docker engine',
        ok: true,
        detail: `${e.version} (API ${e.apiVersion}), ${e.cpus} CPUs, ${gib(e.memoryBytes)} GiB`,
      });
      findings.push({
        what: 'published on',
        ok: isIpLiteral(HOST_IP),
        detail: process.env.DOCKER_HOST?.startsWith('tcp')
          ? `${HOST_IP}: the engine is remote (DOCKER_HOST=${process.env.DOCKER_HOST}), so every port and endpoint is on its host`
          : `${HOST_IP} (the local engine's socket)`,
        remedy: 'write DOCKER_HOST=tcp://<the engine host IP>:<port>',
      });
    } catch (err) {
      findings.push({
        what: 'docker engine',
        ok: false,
        detail: describe(err),
        remedy:
          'run `npm run setup` (installs docker.io and starts dockerd on Debian as root), or start Docker and retry',
      });
    }
    if (engineOk) {
      for (const tag of [ROOT_IMAGE, ...(await recipes()).map((r) => r.tag)]) {
        const label = await imageLabel(tag);
        findings.push({
          what: `image ${tag}`,
          ok: label !== undefined,
          detail: label === undefined ? 'missing' : `present (recipe ${label})`,
          remedy: 'run `npx midlab images build`',
        });
      }
    }
    // The host tools the image recipes use, needed only to build what is not built yet.
    const missingImages = engineOk
      ? (
          await Promise.all(
            [ROOT_IMAGE, ...(await recipes()).map((r) => r.tag)].map(async (t) => [t, await imageLabel(t)] as const),
          )
        )
          .filter(([, l]) => l === undefined)
          .map(([t]) => t)
      : [];
    for (const [tool, needs, remedy] of TOOLS) {
      const path = onPath(tool);
      const needed = missingImages.filter((t) => needs.test(t));
      findings.push({
        what: `tool ${tool}`,
        ok: path !== undefined || needed.length === 0 || tool === 'go',
        detail:
          path ??
          (tool === 'go'
            ? 'missing: set-up fetches a Go toolchain from the Go module proxy when an image needs one'
            : needed.length
              ? `missing, and needed to build ${needed.join(', ')}`
              : 'missing (every image that needs it is built)'),
        remedy,
      });
    }
    const free = freemem();
    findings.push({
      what: 'free memory',
      ok: free > 3 * 1024 ** 3,
      detail: `${gib(free)} GiB free`,
      remedy: 'the largest lab (Kafka in ZooKeeper mode) needs about 3 GiB; close other programs',
    });
    const ready = findings.every((f) => f.ok);
    if (values.json) {
      process.stdout.write(`${JSON.stringify({ ready, findings }, null, 2)}\n`);
    } else {
      for (const f of findings) {
        process.stdout.write(`${f.ok ? 'ok  ' : 'FAIL'} ${f.what}: ${f.detail}\n`);
        if (!f.ok && f.remedy) process.stdout.write(`     fix: ${f.remedy}\n`);
      }
      process.stdout.write(ready ? 'ready\n' : 'not ready\n');
    }
    return ready ? 0 : 3;
  },
};

/** Host tools of the image recipes: which images need each, and how to get it. */
const TOOLS: [string, RegExp, string][] = [
  ['debootstrap', /debian/, 'apt-get install debootstrap (as root), or `midlab images load FILE`'],
  ['mvn', /zookeeper|kafka/, 'apt-get install maven'],
  ['go', /minio|etcd/, 'install Go >= 1.24, or let set-up fetch one'],
  ['curl', /minio|etcd/, 'apt-get install curl'],
  ['unzip', /minio|etcd/, 'apt-get install unzip'],
];

function onPath(tool: string): string | undefined {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/local/go/bin']) {
    const p = join(dir, tool);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function gib(bytes: number): string {
  return (bytes / 1024 ** 3).toFixed(1);
}
