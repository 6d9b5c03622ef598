import { spawnSync } from 'node:child_process';
import { stacks } from '../../stacks/index.ts';
import { UsageError } from '../errors.ts';
import { describeParams, parseKeyValues, resolveParams } from '../params.ts';
import { listLabs, reap, reapLeftovers } from '../runtime/reaper.ts';
import { startStack } from '../runtime/stack.ts';
import { type Command, parse } from './args.ts';

function findStack(name: string | undefined) {
  const s = stacks.find((x) => x.name === name);
  if (!s) {
    throw new UsageError(
      name ? `no stack named "${name}"` : 'which stack?',
      `stacks: ${stacks.map((x) => x.name).join(', ')}`,
    );
  }
  return s;
}

export const up: Command = {
  name: 'up',
  summary: 'start a stack and leave it running (print its endpoints)',
  help: `Usage: midlab up <stack> [--nodes N] [--param key=value ...] [--json]

Starts a stack with the parameters a lab would pass it, waits until the cluster (not
just its containers) is healthy, prints the endpoints a host client uses, and returns.
The cluster keeps running until \`midlab down <stack>\`. Ctrl-C while it starts removes
everything started.

Stacks and their parameters:
${stacks
  .map(
    (s) =>
      `  ${s.name}: ${s.summary}\n${describeParams(s.params)
        .map((p) => `    --param ${p}`)
        .join('\n')}`,
  )
  .join('\n')}

Options:
  --nodes N    shorthand for --param nodes=N
  --json       print one JSON object: {"lab", "stack", "params", "endpoints"} with
               endpoints as "127.0.0.1:PORT" strings`,
  async run(args) {
    const { values, positionals } = parse('up', args, {
      param: { type: 'string', multiple: true },
      nodes: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length > 1) throw new UsageError(`up takes one stack, got ${positionals.join(' ')}`);
    const stack = findStack(positionals[0]);
    const given: Record<string, string> = parseKeyValues((values.param as string[] | undefined) ?? []);
    if (values.nodes !== undefined) given.nodes = String(values.nodes);
    const t0 = Date.now();
    // Refused (exit 2) before anything is said to start; startStack says the warnings.
    stack.validate(resolveParams(stack.params, given, stack.name));
    if (!values.json) process.stderr.write(`starting ${stack.name} ${JSON.stringify(given)} ...\n`);
    const started = await startStack(stack, given, {
      lab: stack.name,
      kept: true,
      onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
    });
    const seconds = (Date.now() - t0) / 1000;
    const endpoints = started.endpoints();
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ lab: started.cluster.lab, stack: stack.name, params: given, seconds, endpoints })}\n`,
      );
    } else {
      process.stdout.write(`${stack.name} is healthy after ${seconds.toFixed(1)} s. Endpoints:\n`);
      for (const [k, v] of Object.entries(endpoints))
        process.stdout.write(`  ${k.padEnd(12)} ${Array.isArray(v) ? v.join(',') : v}\n`);
      process.stdout.write(`Shell into a node: docker exec -it ${started.cluster.nodes[0]?.containerName} bash\n`);
      process.stdout.write(`Remove it: npx midlab down ${started.cluster.lab}\n`);
    }
    return 0;
  },
};

export const ps: Command = {
  name: 'ps',
  summary: 'list running labs and their nodes',
  help: `Usage: midlab ps [--json]

Lists every lab that has containers, with each node's state and published ports, and
who owns it: a midlab process still running, \`midlab up\` (kept until \`midlab down\`),
or nobody (a leftover of a killed process: \`midlab reap\` removes it).`,
  async run(args) {
    const { values } = parse('ps', args, { json: { type: 'boolean' } });
    const labs = await listLabs();
    if (values.json) {
      process.stdout.write(`${JSON.stringify(labs, null, 2)}\n`);
      return 0;
    }
    if (!labs.length) process.stdout.write('no midlab containers\n');
    for (const l of labs) {
      const owner = l.alive ? `owner pid ${l.pid}` : l.kept ? 'kept by `midlab up`' : 'leftover (owner gone)';
      process.stdout.write(`${l.lab} (${l.stack}) ${owner}\n`);
      for (const n of l.nodes)
        process.stdout.write(`  ${n.name.padEnd(10)} ${n.state.padEnd(8)} ${n.ports.join(' ')}\n`);
    }
    return 0;
  },
};

export const down: Command = {
  name: 'down',
  summary: 'remove a lab started with `up` (or --all)',
  help: `Usage: midlab down <lab> | --all

Removes the lab's containers and network (a lab started with \`midlab up <stack>\` is
named after the stack).`,
  async run(args) {
    const { values, positionals } = parse('down', args, { all: { type: 'boolean' } });
    if (!values.all && positionals.length !== 1)
      throw new UsageError('down needs one lab name or --all', 'see `midlab ps`');
    const known = (await listLabs()).map((l) => l.lab);
    if (!values.all && !known.includes(positionals[0] as string)) {
      throw new UsageError(
        `no running lab named "${positionals[0]}"`,
        known.length ? `running: ${known.join(', ')}` : 'nothing is running',
      );
    }
    const r = await reap(values.all ? undefined : positionals[0]);
    process.stdout.write(`removed ${r.containers} container(s), ${r.networks} network(s), ${r.volumes} volume(s)\n`);
    return 0;
  },
};

export const reapCommand: Command = {
  name: 'reap',
  summary: 'remove what killed midlab processes left behind (--all: every lab)',
  help: `Usage: midlab reap [--all]

Removes the containers, networks and volumes of labs whose midlab process is gone
(killed before it could clean up). Runs still going and clusters kept by \`midlab up\`
are left alone.

Options:
  --all    remove everything labelled dev.midlab.lab, running or kept too`,
  async run(args) {
    const { values } = parse('reap', args, { all: { type: 'boolean' } });
    const r = values.all ? { ...(await reap()), labs: [] } : await reapLeftovers();
    const which = r.labs.length ? ` (${r.labs.join(', ')})` : '';
    process.stdout.write(
      `removed ${r.containers} container(s), ${r.networks} network(s), ${r.volumes} volume(s)${which}\n`,
    );
    return 0;
  },
};

export const shell: Command = {
  name: 'shell',
  summary: 'open a shell in a node of a running lab',
  ownArgs: 2,
  help: `Usage: midlab shell <lab> <node> [command ...]

Opens an interactive bash in the node (or runs the command), like
\`docker exec -it midlab-<lab>-<node> bash\`: the notes' own tools (zkCli.sh,
kafka-topics.sh, rabbitmqctl, mc, redis-cli) are there. \`midlab ps\` lists labs and nodes.`,
  async run(args) {
    const [lab, node, ...command] = args;
    if (!lab || !node) throw new UsageError('shell needs a lab and a node', 'see `midlab ps`');
    const running = await listLabs();
    const found = running.find((l) => l.lab === lab);
    if (!found)
      throw new UsageError(
        `no running lab named "${lab}"`,
        running.length
          ? `running: ${running.map((l) => l.lab).join(', ')}`
          : 'nothing is running: start one with `midlab up <stack>`',
      );
    const n = found.nodes.find((x) => x.name === node);
    if (!n)
      throw new UsageError(`lab ${lab} has no node "${node}"`, `nodes: ${found.nodes.map((x) => x.name).join(', ')}`);
    const r = spawnSync('docker', ['exec', '-it', n.container, ...(command.length ? command : ['bash'])], {
      stdio: 'inherit',
    });
    if (r.error)
      throw new UsageError(
        `cannot run the docker command: ${r.error.message}`,
        'install the Docker CLI, or use `docker exec` from elsewhere',
      );
    return r.status ?? 1;
  },
};
