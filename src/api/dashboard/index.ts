// The dashboard: its HTML shell, its style sheet, and its script put together from its parts (plain browser
// JavaScript in string modules: no build step, the same under wrangler dev, the package build and vitest).
import { chart } from './chart.ts';
import { core } from './core.ts';
import { dead } from './dead.ts';
import { keys } from './keys.ts';
import { live } from './live.ts';
import { overview } from './overview.ts';
import { queues } from './queues.ts';
import { schedules } from './schedules.ts';
import { boot, dashboardHtml, faviconSvg } from './shell.ts';
import { dashboardStyle } from './style.ts';
import { tasks } from './tasks.ts';
import { workers } from './workers.ts';
import { workflows } from './workflows.ts';

/** The page at GET /. */
export const dashboardPage = dashboardHtml;
/** GET /favicon.svg. */
export const favicon = faviconSvg;
/** GET /dashboard.css. */
export const dashboardCss = dashboardStyle;
/** GET /dashboard.js: one function scope, so the parts share their names and leak none onto window. */
export const dashboardJs = `(function () {\n${[core, live, chart, overview, queues, keys, tasks, dead, workers, schedules, workflows, boot].join('\n')}\n})();\n`;
