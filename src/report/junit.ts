import type { RunResult } from '../engine/result.ts';

/** JUnit XML: one suite per lab run, one test case per check (unknown = error). */
export function junitXml(results: RunResult[]): string {
  const suites = results.map((r) => {
    const cases = r.checks.length
      ? r.checks.map((c) => {
          const body =
            c.ok === true
              ? ''
              : c.ok === false
                ? `<failure message="${esc(c.observed)}">expected: ${esc(c.expected)}\nobserved: ${esc(c.observed)}</failure>`
                : `<error message="${esc(c.observed)}"/>`;
          return `    <testcase classname="${esc(r.lab)}" name="${esc(c.name)}">${body}</testcase>`;
        })
      : [`    <testcase classname="${esc(r.lab)}" name="verdict"><error message="${esc(r.reason)}"/></testcase>`];
    const failures = r.checks.filter((c) => c.ok === false).length;
    const errors = r.checks.length ? r.checks.filter((c) => c.ok === 'unknown').length : 1;
    return [
      `  <testsuite name="${esc(r.lab)}" tests="${Math.max(1, r.checks.length)}" failures="${failures}" errors="${errors}" time="${r.seconds.toFixed(1)}">`,
      `    <properties><property name="seed" value="${r.seed}"/><property name="verdict" value="${r.verdict}"/><property name="params" value="${esc(JSON.stringify(r.params))}"/><property name="evidence" value="${esc(r.outDir)}"/></properties>`,
      ...cases,
      '  </testsuite>',
    ].join('\n');
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="midlab">\n${suites.join('\n')}\n</testsuites>\n`;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
