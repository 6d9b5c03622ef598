import { describe, expect, it } from 'vitest';
import { History } from '../../src/engine/history.ts';
import { fillCommands, fillText } from '../../src/engine/lab.ts';
import { Random } from '../../src/engine/random.ts';
import { UsageError } from '../../src/errors.ts';
import { parseKeyValues, resolveParams } from '../../src/params.ts';
import { junitXml } from '../../src/report/junit.ts';
import { debianMirror } from '../../src/runtime/images.ts';

describe('history', () => {
  it('pairs each invocation with one completion', async () => {
    const h = new History();
    const ok = await h.record(
      'p',
      'write',
      { id: 'a' },
      'n1',
      async () => 'done',
      () => 'fail',
    );
    const bad = await h.record(
      'p',
      'write',
      { id: 'b' },
      'n1',
      async () => Promise.reject(new Error('timeout')),
      () => 'info',
    );
    expect(ok.ok).toBe(true);
    expect(bad.ok).toBe(false);
    expect(h.ops.map((o) => `${o.type}:${(o.value as { id: string }).id}`)).toEqual([
      'invoke:a',
      'ok:a',
      'invoke:b',
      'info:b',
    ]);
    expect(h.ops[3]?.error).toBe('timeout');
  });
  it('refuses to complete an operation twice', () => {
    const op = new History().invoke('p', 'write');
    op.ok();
    expect(() => op.fail('again')).toThrow(/completed twice/);
  });
});

describe('parameters', () => {
  const table = {
    nodes: { type: 'int', default: 3, min: 1, describe: 'nodes' },
    mode: { type: 'enum', default: 'kraft', choices: ['kraft', 'zookeeper'], describe: 'mode' },
    fast: { type: 'bool', default: false, describe: 'fast' },
  } as const;
  it('overlays given values on defaults', () => {
    expect(resolveParams(table, { nodes: '5', fast: 'true' }, 'x')).toEqual({ nodes: 5, mode: 'kraft', fast: true });
  });
  it('refuses unknown parameters with the valid ones', () => {
    expect(() => resolveParams(table, { node: '3' }, 'x')).toThrow(UsageError);
    try {
      resolveParams(table, { node: '3' }, 'x');
    } catch (e) {
      expect((e as UsageError).hint).toBe('valid parameters: nodes, mode, fast');
    }
  });
  it('refuses bad values with the choices', () => {
    expect(() => resolveParams(table, { mode: 'raft' }, 'x')).toThrow(/not a valid choice/);
    expect(() => resolveParams(table, { nodes: '0' }, 'x')).toThrow(/out of range/);
    expect(() => resolveParams(table, { nodes: 'two' }, 'x')).toThrow(/whole number/);
  });
  it('parses key=value', () => {
    expect(parseKeyValues(['a=1', 'b=x=y'])).toEqual({ a: '1', b: 'x=y' });
    expect(() => parseKeyValues(['a'])).toThrow(UsageError);
  });
});

describe('random', () => {
  it('replays from a seed', () => {
    const a = new Random(42);
    const b = new Random(42);
    expect(Array.from({ length: 5 }, () => a.int(1000))).toEqual(Array.from({ length: 5 }, () => b.int(1000)));
  });
});

describe('junit', () => {
  it('writes a failure per failed check and escapes text', () => {
    const xml = junitXml([
      {
        lab: 'zk/x',
        title: 'x',
        notes: '',
        params: {},
        seed: 1,
        verdict: 'fail',
        reason: '',
        seconds: 1,
        phases: {},
        outDir: '',
        checks: [
          { name: 'a', ok: true, expected: '', observed: '' },
          { name: 'b <c>', ok: false, expected: '0 lost', observed: '2 lost & more' },
        ],
      },
    ]);
    expect(xml).toContain('tests="2" failures="1" errors="0"');
    expect(xml).toContain('name="b &lt;c&gt;"><failure message="2 lost &amp; more">');
  });
});

describe('lab network addresses', async () => {
  const { nthAddress } = await import('../../src/runtime/cluster.ts');
  it('counts from the subnet base', () => {
    expect(nthAddress('192.168.16.0/20', 10)).toBe('192.168.16.10');
    expect(nthAddress('172.18.0.0/16', 300)).toBe('172.18.1.44');
  });
});

describe('host ports in node files', async () => {
  const { withHostPorts } = await import('../../src/runtime/cluster.ts');
  it('fills @HOSTPORT:name@ in files and env', () => {
    const n = withHostPorts(
      {
        name: 'k1',
        image: 'x',
        ports: { external: 9094 },
        env: { A: 'p=@HOSTPORT:external@' },
        files: [{ path: '/a', content: 'EXTERNAL://127.0.0.1:@HOSTPORT:external@ @HOSTPORT:other@' }],
      },
      { external: 40001 },
    );
    expect(n.env?.A).toBe('p=40001');
    expect(n.files?.[0]?.content).toBe('EXTERNAL://127.0.0.1:40001 @HOSTPORT:other@');
  });
});

describe('step text', () => {
  it('fills {name} from the run and the parameters, and leaves unknown names as written', () => {
    expect(fillText('Kill {victim} ({mode}); {later}', { victim: 'kafka2', mode: 'kraft' })).toBe(
      'Kill kafka2 (kraft); {later}',
    );
  });

  it('fills a step command: {@var} and {@node} become containers, an unknown var stays a placeholder', () => {
    const container = (n: string) => `midlab-lab-${n}`;
    const cmds = fillCommands(
      (p: { port: number }) => ['docker exec {@leader} ping {@zk1}:{port}', `srvr {@other} ${p.port + 1}`],
      { port: 2181 },
      { leader: 'zk2', port: 2181 },
      ['zk1', 'zk2', 'zk3'],
      container,
    );
    expect(cmds).toEqual(['docker exec midlab-lab-zk2 ping midlab-lab-zk1:2181', 'srvr midlab-lab-{other} 2182']);
  });
});

describe('the Debian mirror for the base image', () => {
  const deb822 = (uri: string, suites: string) => `Types: deb\nURIs: ${uri}\nSuites: ${suites}\nComponents: main\n`;
  it("takes the host's bookworm source", () => {
    expect(debianMirror([deb822('http://mirror.example/debian', 'bookworm bookworm-updates')], undefined)).toBe(
      'http://mirror.example/debian',
    );
    expect(debianMirror(['deb [arch=amd64] http://m.example/debian bookworm main\n'], undefined)).toBe(
      'http://m.example/debian',
    );
  });
  it('without a bookworm line: the override, else any other Debian source, never a security one', () => {
    const trixie = [
      deb822('http://security.example/debian-security', 'trixie-security'),
      deb822('http://m.example/debian', 'trixie'),
    ];
    expect(debianMirror(trixie, 'http://chosen.example/debian')).toBe('http://chosen.example/debian');
    expect(debianMirror(trixie, undefined)).toBe('http://m.example/debian');
    expect(
      debianMirror([deb822('http://security.example/debian-security', 'trixie-security')], undefined),
    ).toBeUndefined();
  });
});
