// Task routes: globs, first match wins, and a producer's own choice is kept.
import { describe, expect, it } from 'vitest';
import { compileRoutes, routed } from './routes.ts';

const lookup = compileRoutes([
  { match: 'scrape.cn.*', queue: 'scrape', region: 'cn' },
  { match: 'scrape.*', queue: 'scrape', priority: 3 },
  { match: 'report.nightly', queue: 'reports', priority: 1 },
]);
const body = (task: string) => ({ task, queue: 'default', region: null, priority: 5 });

describe('task routes', () => {
  it('match exact names and globs, first match first', () => {
    expect(lookup('scrape.cn.page')?.region).toBe('cn');
    expect(lookup('scrape.eu.page')).toMatchObject({ queue: 'scrape', priority: 3 });
    expect(lookup('report.nightly')?.queue).toBe('reports');
    expect(lookup('report.nightlyx')).toBeUndefined();
    expect(lookup('scrapeXcn.page')?.region).toBeUndefined();
  });

  it('fill only what the request left out', () => {
    expect(routed({ task: 'scrape.cn.page' }, body('scrape.cn.page'), lookup)).toMatchObject({ queue: 'scrape', region: 'cn', priority: 5 });
    expect(routed({ task: 'scrape.cn.page', queue: 'mine', region: null }, { ...body('scrape.cn.page'), queue: 'mine' }, lookup)).toMatchObject({ queue: 'mine', region: null });
  });

  it('refuse a table that could never apply', () => {
    expect(() => compileRoutes([{ match: 'x', queue: 'Bad Queue' }])).toThrow(/queue/);
    expect(() => compileRoutes([{ match: 'x', priority: 12 }])).toThrow(/priority/);
    expect(() => compileRoutes([{ match: '' }])).toThrow(/match/);
  });
});
