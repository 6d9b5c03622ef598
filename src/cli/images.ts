import { UsageError } from '../errors.ts';
import { buildImages, imageLabel, loadImages, ROOT_IMAGE, recipes, saveImages } from '../runtime/images.ts';
import { type Command, parse } from './args.ts';

export const images: Command = {
  name: 'images',
  summary: 'build, list, save or load the stack images (no registry needed)',
  help: `Usage: midlab images build [image ...] [--force]
       midlab images list
       midlab images save FILE
       midlab images load FILE

build  builds every image (or the named ones and what they stand on) from
       stacks/<name>/image: a Debian root made with debootstrap, then Dockerfiles.
       An image whose recipe is unchanged is skipped (a warm build takes seconds);
       --force rebuilds anyway.
list   shows each image and whether it is built.
save   writes every built image into one tar FILE, to carry to a room without network.
load   loads such a FILE.`,
  async run(args) {
    const { values, positionals } = parse('images', args, { force: { type: 'boolean' } });
    const [sub, ...rest] = positionals;
    switch (sub) {
      case 'build': {
        const t0 = Date.now();
        // The step under way, with its elapsed time: rewritten in place on a terminal,
        // a plain line every 30 s otherwise (a cold MinIO or etcd compile takes minutes).
        const tty = process.stderr.isTTY;
        let current: { tag: string; step: string; since: number } | undefined;
        const elapsed = () => `${Math.round((Date.now() - (current?.since ?? Date.now())) / 1000)} s`;
        const ticker = setInterval(
          () => {
            if (!current) return;
            if (tty) process.stderr.write(`\r\x1b[2K  ${current.tag}: ${current.step} (${elapsed()})`);
            else process.stderr.write(`  ${current.tag}: still ${current.step} (${elapsed()})\n`);
          },
          tty ? 1000 : 30_000,
        );
        const line = (text: string) => process.stderr.write(`${tty && current ? '\r\x1b[2K' : ''}${text}\n`);
        try {
          await buildImages(
            rest,
            (e) => {
              if (e.kind === 'cached') line(`  ${e.tag}: up to date`);
              if (e.kind === 'built') {
                line(`  ${e.tag}: built in ${e.seconds.toFixed(1)} s`);
                current = undefined;
              }
              if (e.kind === 'building' && (e.tag !== current?.tag || e.step !== current.step)) {
                line(`  ${e.tag}: ${e.step}`);
                current = { tag: e.tag, step: e.step, since: Date.now() };
              }
            },
            { force: Boolean(values.force) },
          );
        } finally {
          clearInterval(ticker);
        }
        process.stderr.write(`images ready in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        return 0;
      }
      case 'list': {
        for (const tag of [ROOT_IMAGE, ...(await recipes()).map((r) => r.tag)]) {
          const label = await imageLabel(tag);
          process.stdout.write(`${tag.padEnd(28)} ${label === undefined ? 'missing' : `built (recipe ${label})`}\n`);
        }
        return 0;
      }
      case 'save': {
        if (rest.length !== 1) throw new UsageError('images save needs one FILE');
        const saved = await saveImages(rest[0] as string);
        process.stderr.write(`saved ${saved.length} images to ${rest[0]}\n`);
        return 0;
      }
      case 'load': {
        if (rest.length !== 1) throw new UsageError('images load needs one FILE');
        await loadImages(rest[0] as string);
        process.stderr.write(`loaded ${rest[0]}\n`);
        return 0;
      }
      default:
        throw new UsageError(
          sub ? `unknown images command "${sub}"` : 'images needs a command',
          'build, list, save or load',
        );
    }
  },
};
