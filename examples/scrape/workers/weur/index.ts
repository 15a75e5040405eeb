// The weur regional consumer: the scraping tasks, run on Cloudflare near Western Europe.
import { regionalConsumer } from '../../../../src/consumers/regional.ts';
import { tasksOf } from '../../../../src/sdk/task.ts';
import * as scrape from '../../tasks.ts';

const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'weur', locationHint: 'weur', tasks: tasksOf(scrape) });

export { RegionalConsumerObject };
export default worker;
