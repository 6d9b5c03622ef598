/**
 * Kafka's Java tools as the labs run them inside a node (the system tests' clients, the copier, the perf
 * producer): started in the background with the heap every tool gets here, their stdout read as it comes
 * (most print one JSON event a line), signalled, and stopped. Stdout goes through a `cat` whose pid is
 * kept: stopping that cat blocks the tool in its own printing once the pipe is full, and nothing else.
 */
import { PassThrough } from 'node:stream';
import { docker } from '../../src/runtime/docker.ts';
import type { StartedNode } from '../../src/runtime/node.ts';

/** The JVM heap of a tool: two JVMs share a broker's container. */
export function heapEnv(heapMb = 96): string[] {
  return [`KAFKA_TOOL_HEAP_OPTS=-Xmx${heapMb}m`];
}

/** The JSON objects among `text`'s lines (a line cut short when the tool was stopped is skipped). */
export function jsonLines<T>(text: string): T[] {
  return text.split('\n').flatMap((l) => {
    if (!l.trim().startsWith('{')) return [];
    try {
      return [JSON.parse(l) as T];
    } catch {
      return [];
    }
  });
}

export interface JavaToolOptions {
  heapMb?: number;
  /** Each line of stdout (trimmed) as it arrives; with it, `stdout` is not kept. */
  onLine?: (line: string) => void;
  /** Each line of stderr (trimmed) as it arrives; with it, `stderr` is not kept. */
  onErrLine?: (line: string) => void;
}

type Signal = 'STOP' | 'CONT' | 'TERM' | 'KILL';

/** One Java tool running in the background inside a node. */
export class JavaTool {
  readonly node: StartedNode;
  /** Its pid and reader files inside the node: /tmp/midlab-<name>.pid, .reader. */
  readonly files: string;
  stdout = '';
  stderr = '';
  /** Its exit code once it exited. */
  readonly exited: Promise<number>;

  private constructor(node: StartedNode, name: string, exited: (t: JavaTool) => Promise<number>) {
    this.node = node;
    this.files = filesOf(name);
    this.exited = exited(this);
  }

  /** Starts `args` (the tool and its arguments) inside `node`; resolves once it runs (its pid is written). */
  static async start(node: StartedNode, name: string, args: string[], o: JavaToolOptions = {}): Promise<JavaTool> {
    const f = filesOf(name);
    const quoted = args.map((a) => `'${a}'`).join(' ');
    // The sleep lets the cat pass on the tool's last lines before the exec ends.
    const script =
      `rm -f ${f}.pid; ${quoted} > >(echo $BASHPID > ${f}.reader; exec cat) & ` +
      `echo $! > ${f}.pid; wait $!; rc=$?; sleep 0.5; exit $rc`;
    const ex = await node.container.exec({
      Cmd: ['bash', '-c', script],
      AttachStdout: true,
      AttachStderr: true,
      Env: heapEnv(o.heapMb),
    });
    const stream = await ex.start({ hijack: true, stdin: false });
    const tool = new JavaTool(node, name, async (t) => {
      const out = new PassThrough();
      const err = new PassThrough();
      docker().modem.demuxStream(stream, out, err);
      lines(out, o.onLine ?? ((l) => (t.stdout += `${l}\n`)));
      lines(err, o.onErrLine ?? ((l) => (t.stderr += `${l}\n`)));
      await new Promise<void>((resolve) => {
        stream.on('end', () => resolve());
        stream.on('error', () => resolve());
      });
      return (await ex.inspect()).ExitCode ?? -1;
    });
    const started = await node.exec([
      'bash',
      '-c',
      `for i in $(seq 50); do [ -s ${f}.pid ] && exit 0; sleep 0.1; done; exit 1`,
    ]);
    if (started.exitCode !== 0) throw new Error(`${node.name}: ${args[0]} did not start`);
    return tool;
  }

  /** Its JSON lines so far. */
  events<T>(): T[] {
    return jsonLines<T>(this.stdout);
  }

  /** Sends `sig` to the tool (or to the cat reading its output); true if delivered. */
  async signal(sig: Signal, to: 'pid' | 'reader' = 'pid'): Promise<boolean> {
    return (await this.node.exec(['bash', '-c', `kill -${sig} "$(cat ${this.files}.${to})"`])).exitCode === 0;
  }

  /** Lets the frozen tool run for `ms` and freezes it again, timed inside the node (no exec latency in it). */
  async runFor(ms: number): Promise<boolean> {
    const pid = `"$(cat ${this.files}.pid)"`;
    const cmd = `kill -CONT ${pid} && sleep ${(ms / 1000).toFixed(3)} && kill -STOP ${pid}`;
    return (await this.node.exec(['bash', '-c', cmd])).exitCode === 0;
  }

  /** Stops reading its output: the tool blocks in its printing once the pipe is full. */
  stall(): Promise<boolean> {
    return this.signal('STOP', 'reader');
  }

  resume(): Promise<boolean> {
    return this.signal('CONT', 'reader');
  }

  /** SIGTERM (the tool closes its clients and exits); its exit code, or undefined if still running after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<number | undefined> {
    await this.resume();
    await this.signal('CONT');
    await this.signal('TERM');
    return this.wait(timeoutMs);
  }

  /** Its exit code, or undefined if it still runs after `timeoutMs`. */
  wait(timeoutMs: number): Promise<number | undefined> {
    const timer = new Promise<undefined>((r) => setTimeout(() => r(undefined), timeoutMs).unref());
    return Promise.race([this.exited, timer]);
  }
}

/** Runs a tool inside `node` to its end (killed after `timeoutMs`): its exit code and output. */
export async function runJavaTool(
  node: StartedNode,
  name: string,
  args: string[],
  o: { heapMb?: number; timeoutMs: number },
): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  const tool = await JavaTool.start(node, name, args, { heapMb: o.heapMb });
  let exitCode = await tool.wait(o.timeoutMs);
  if (exitCode === undefined) {
    await tool.signal('KILL');
    exitCode = await tool.exited;
  }
  return { exitCode, stdout: tool.stdout, stderr: tool.stderr };
}

/** A tool's pid and reader files inside its node, without their suffix. */
const filesOf = (name: string) => `/tmp/midlab-${name}`;

function lines(stream: NodeJS.ReadableStream, fn: (line: string) => void): void {
  let rest = '';
  stream.on('data', (c: Buffer) => {
    const parts = (rest + c.toString('utf8')).split('\n');
    rest = parts.pop() ?? '';
    for (const l of parts) fn(l.trim());
  });
  stream.on('end', () => {
    if (rest.trim()) fn(rest.trim());
  });
}
