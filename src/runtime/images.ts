import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { MidlabError, UsageError } from '../errors.ts';
import { dialStream, docker } from './docker.ts';
import { LABEL_RECIPE } from './labels.ts';
import { PACKAGE_ROOT } from './package-root.ts';

/**
 * Images are built here, never pulled: there may be no registry at all.
 *
 * Each `stacks/<name>/image/` folder is one image, `midlab/<name>:latest`, whose
 * Dockerfile starts FROM another midlab image (that is how the build order is found).
 * `versions.env` pins versions (build args, and the environment of `prepare.sh`, which
 * fetches artifacts such as jars or binaries into `.artifacts/` on the host first).
 * The root of the tree, `midlab/debian:bookworm`, is made with debootstrap.
 *
 * A folder may also hold `versions-<tag>.env` files: one more image each,
 * `midlab/<name>:<tag>`, from the same Dockerfile with those versions (Kafka 4.4 beside
 * 3.9). `images build <name>` builds them all, `images build <name>:<tag>` one.
 *
 * An image carries the hash of its recipe (its folder's files but the other images'
 * versions files, and its parent's hash), so an unchanged image is never rebuilt.
 */
export const STACKS_DIR = join(PACKAGE_ROOT, 'stacks');
export const ROOT_IMAGE = 'midlab/debian:bookworm';
const DEBIAN_SUITE = 'bookworm';

export interface ImageRecipe {
  /** Folder name under stacks/: base, jvm, zookeeper, ... */
  name: string;
  tag: string;
  dir: string;
  parent: string;
  /** versions.env, or versions-<tag>.env for a further image of the same folder. */
  versionsFile: string;
  versions: Record<string, string>;
}

export async function recipes(): Promise<ImageRecipe[]> {
  const out: ImageRecipe[] = [];
  for (const entry of await readdir(STACKS_DIR, { withFileTypes: true })) {
    if (!entry.isDirectory()) continue;
    const dir = join(STACKS_DIR, entry.name, 'image');
    const dockerfile = await readFile(join(dir, 'Dockerfile'), 'utf8').catch(() => undefined);
    if (!dockerfile) continue;
    const from = /^FROM\s+(\S+)/m.exec(dockerfile)?.[1];
    if (!from) throw new Error(`${dir}/Dockerfile has no FROM line`);
    const tags = (await readdir(dir)).flatMap((f) => /^versions-(.+)\.env$/.exec(f)?.[1] ?? []);
    for (const tag of ['latest', ...tags.sort()]) {
      const versionsFile = tag === 'latest' ? 'versions.env' : `versions-${tag}.env`;
      const versions = await readVersions(join(dir, versionsFile));
      out.push({ name: entry.name, tag: `midlab/${entry.name}:${tag}`, dir, parent: from, versionsFile, versions });
    }
  }
  return out;
}

async function readVersions(file: string): Promise<Record<string, string>> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const vars: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z0-9_]+)=(.*)$/.exec(line);
    if (m?.[1]) vars[m[1]] = (m[2] ?? '').trim().replace(/^"(.*)"$/, '$1');
  }
  return vars;
}

/** The recipes needed for `names` (all when empty), parents first. */
export async function buildOrder(names: string[]): Promise<ImageRecipe[]> {
  const all = await recipes();
  const byTag = new Map(all.map((r) => [r.tag, r]));
  // `kafka` names every image of the folder, `kafka:4.4` one of them.
  const named = (n: string) => all.filter((r) => r.name === n || r.tag === `midlab/${n}`);
  const wanted = names.length ? names : all.map((r) => r.name);
  for (const n of wanted) {
    if (!named(n).length) {
      throw new UsageError(`no image named ${n}`, `choose from: ${[...new Set(all.map((r) => r.name))].join(', ')}`);
    }
  }
  const order: ImageRecipe[] = [];
  const visit = (r: ImageRecipe): void => {
    if (order.includes(r)) return;
    const parent = byTag.get(r.parent);
    if (parent) visit(parent);
    order.push(r);
  };
  for (const n of wanted) for (const r of named(n)) visit(r);
  return order;
}

export async function recipeHash(r: ImageRecipe, parentHash: string): Promise<string> {
  const h = createHash('sha256').update(parentHash);
  for (const file of await listFiles(r.dir)) {
    const name = relative(r.dir, file);
    if (/^versions-.+\.env$/.test(name) && name !== r.versionsFile) continue;
    h.update(name).update('\0');
    h.update(await readFile(file)).update('\0');
    h.update(String((await stat(file)).mode & 0o111)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function listFiles(dir: string, skipArtifacts = true): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (skipArtifacts && e.name === '.artifacts') continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(p, false)));
    else out.push(p);
  }
  return out.sort();
}

export async function imageLabel(tag: string): Promise<string | undefined> {
  try {
    const info = await docker().getImage(tag).inspect();
    return info.Config.Labels?.[LABEL_RECIPE] ?? 'unlabelled';
  } catch {
    return undefined;
  }
}

export type BuildEvent =
  | { kind: 'cached'; tag: string }
  | { kind: 'building'; tag: string; step: string }
  | { kind: 'built'; tag: string; seconds: number };

/** Builds what `names` need, skipping every image whose recipe is unchanged. */
export async function buildImages(
  names: string[],
  onEvent: (e: BuildEvent) => void,
  opts: { force?: boolean } = {},
): Promise<void> {
  const hashes = new Map<string, string>();
  hashes.set(ROOT_IMAGE, await ensureRootImage(onEvent));
  for (const r of await buildOrder(names)) {
    const parentHash = hashes.get(r.parent);
    if (!parentHash) throw new Error(`${r.tag} starts FROM ${r.parent}, which midlab does not build`);
    const hash = await recipeHash(r, parentHash);
    hashes.set(r.tag, hash);
    if (!opts.force && (await imageLabel(r.tag)) === hash) {
      onEvent({ kind: 'cached', tag: r.tag });
      continue;
    }
    const t0 = Date.now();
    if (await exists(join(r.dir, 'prepare.sh'))) {
      onEvent({ kind: 'building', tag: r.tag, step: 'fetching artifacts (prepare.sh)' });
      await run(
        'bash',
        ['prepare.sh'],
        { cwd: r.dir, env: { ...process.env, ...r.versions } },
        `${r.name}/image/prepare.sh`,
      ).catch((err: Error) => {
        throw new MidlabError('IMAGE_BUILD', `fetching artifacts for ${r.tag} failed: ${err.message}`, {
          hint: `the package registries must be reachable; retry \`npx midlab images build ${r.name}\``,
        });
      });
    }
    onEvent({ kind: 'building', tag: r.tag, step: 'docker build' });
    await dockerBuild(r, hash, (line) => onEvent({ kind: 'building', tag: r.tag, step: line }));
    onEvent({ kind: 'built', tag: r.tag, seconds: (Date.now() - t0) / 1000 });
  }
}

async function dockerBuild(r: ImageRecipe, hash: string, onStep: (line: string) => void): Promise<void> {
  const d = docker();
  const src = (await listFiles(r.dir, false)).map((f) => relative(r.dir, f));
  const stream = await d.buildImage(
    { context: r.dir, src },
    { t: r.tag, buildargs: r.versions, labels: { [LABEL_RECIPE]: hash }, rm: true, forcerm: true },
  );
  const tail: string[] = [];
  await new Promise<void>((resolve, reject) => {
    d.modem.followProgress(
      stream,
      (err: Error | null, out: { error?: string }[]) => {
        const failed = err?.message ?? out.find((o) => o.error)?.error;
        if (failed) {
          reject(
            new MidlabError('IMAGE_BUILD', `building ${r.tag} failed: ${failed}\n${tail.join('').trim()}`, {
              hint: `fix ${relative(process.cwd(), r.dir)}/Dockerfile and run \`npx midlab images build ${r.name}\``,
            }),
          );
        } else resolve();
      },
      (ev: { stream?: string }) => {
        if (!ev.stream) return;
        tail.push(ev.stream);
        if (tail.length > 30) tail.shift();
        if (ev.stream.startsWith('Step ')) onStep(ev.stream.trim());
      },
    );
  });
}

/** midlab/debian:bookworm from debootstrap, with the host's own Debian mirror. */
async function ensureRootImage(onEvent: (e: BuildEvent) => void): Promise<string> {
  const hash = createHash('sha256').update(`debootstrap minbase ${DEBIAN_SUITE}`).digest('hex').slice(0, 16);
  if ((await imageLabel(ROOT_IMAGE)) !== undefined) {
    onEvent({ kind: 'cached', tag: ROOT_IMAGE });
    return hash;
  }
  const t0 = Date.now();
  const mirror = await hostDebianMirror();
  const dir = await mkdtemp(join(tmpdir(), 'midlab-rootfs-'));
  try {
    onEvent({ kind: 'building', tag: ROOT_IMAGE, step: `debootstrap --variant=minbase ${DEBIAN_SUITE}` });
    await run('debootstrap', ['--variant=minbase', DEBIAN_SUITE, dir, mirror], {}, 'debootstrap').catch((err) => {
      throw new MidlabError('NO_BASE_IMAGE', `cannot make the Debian base image: ${(err as Error).message}`, {
        hint: 'midlab needs debootstrap and root to make its base image (`apt-get install debootstrap`), or load images with `midlab images load FILE`',
      });
    });
    onEvent({ kind: 'building', tag: ROOT_IMAGE, step: 'docker import' });
    await dockerImport(dir, ROOT_IMAGE);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  onEvent({ kind: 'built', tag: ROOT_IMAGE, seconds: (Date.now() - t0) / 1000 });
  return hash;
}

async function dockerImport(dir: string, tag: string): Promise<void> {
  const [repo, version] = tag.split(':');
  const tarProc = spawn('tar', ['-C', dir, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const stream = await dialStream({
    path: '/images/create?',
    method: 'POST',
    options: { fromSrc: '-', repo, tag: version, changes: ['CMD ["/bin/bash"]'] },
    file: tarProc.stdout,
    statusCodes: { 200: true, 500: 'server error' },
  });
  await new Promise<void>((resolve, reject) => {
    docker().modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

/** The Debian mirror debootstrap fetches bookworm from, read from this machine's apt sources. */
export async function hostDebianMirror(): Promise<string> {
  const files = ['/etc/apt/sources.list.d/debian.sources', '/etc/apt/sources.list'];
  const texts = await Promise.all(files.map((f) => readFile(f, 'utf8').catch(() => '')));
  const mirror = debianMirror(texts, process.env.MIDLAB_DEBIAN_MIRROR);
  if (mirror) return mirror;
  throw new MidlabError('NO_DEBIAN_MIRROR', 'no Debian mirror found in /etc/apt/sources.list(.d)', {
    hint: 'set MIDLAB_DEBIAN_MIRROR to a Debian mirror URL, or load prebuilt images with `midlab images load FILE`',
  });
}

/**
 * Pure: the mirror to use. A source naming bookworm first; then MIDLAB_DEBIAN_MIRROR; then
 * any other Debian source of the host (a mirror of trixie or sid serves bookworm too),
 * never a security mirror (it has only updates).
 */
export function debianMirror(sources: string[], override: string | undefined): string | undefined {
  const entries: { uri: string; suites: string }[] = [];
  for (const text of sources) {
    for (const m of text.matchAll(/^URIs:\s*(\S+)\s*\nSuites:([^\n]*)/gm))
      entries.push({ uri: m[1] as string, suites: m[2] as string });
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)/gm))
      entries.push({ uri: m[1] as string, suites: m[2] as string });
  }
  const plain = entries.filter((e) => !/security/.test(e.uri) && !/-security\b/.test(e.suites));
  return (
    plain.find((e) => /\bbookworm\b/.test(e.suites))?.uri ??
    (override || undefined) ??
    plain.find((e) => /^https?:\/\//.test(e.uri))?.uri
  );
}

/** Writes every midlab image into one tar file, for a room without network. */
export async function saveImages(file: string): Promise<string[]> {
  const tags = [ROOT_IMAGE, ...(await recipes()).map((r) => r.tag)];
  const present: string[] = [];
  for (const t of tags) if ((await imageLabel(t)) !== undefined) present.push(t);
  // GET /images/get?names=a&names=b: several images in one archive (`docker save a b`).
  const stream = await dialStream({
    path: '/images/get?',
    method: 'GET',
    options: { names: present },
    statusCodes: { 200: true, 500: 'server error' },
  });
  await pipeline(stream, createWriteStream(file));
  return present;
}

export async function loadImages(file: string): Promise<void> {
  const stream = await docker().loadImage(createReadStream(file));
  await new Promise<void>((resolve, reject) => {
    docker().modem.followProgress(stream, (err: Error | null) => (err ? reject(err) : resolve()));
  });
}

function run(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv },
  what: string,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { ...opts, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    p.stderr.on('data', (c: Buffer) => (out = (out + c.toString()).slice(-4000)));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${what} exited ${code}: ${out.trim()}`))));
  });
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}
