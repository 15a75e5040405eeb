// Task routes: where a task goes when its producer does not say. First match wins; `*` matches anything.
// A producer's own queue, region or priority always wins over a route.
import type { TaskRoute } from './src/hub.ts';

const routes: TaskRoute[] = [
  // The scraping example: pages of Chinese sites are fetched from China, on the scrape queue.
  { match: 'scrape.cn.*', queue: 'scrape', region: 'cn' },
];

export default routes;
