// The apac regional consumer: the scraping tasks, run on Cloudflare near Asia-Pacific.
import { regionalConsumer } from '../../../../src/consumers/regional.ts';
import { tasksOf } from '../../../../src/sdk/task.ts';
import * as scrape from '../../tasks.ts';

const { worker, RegionalConsumerObject } = regionalConsumer({ region: 'apac', locationHint: 'apac', tasks: tasksOf(scrape) });

export { RegionalConsumerObject };
export default worker;
