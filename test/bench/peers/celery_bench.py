"""The Celery bench's producer side: enqueues, times, and prints one JSON line.

    BENCH_REDIS_URL=redis://... [BENCH_BROKER_URL=drover://...] /usr/bin/python3 celery_bench.py SCENARIO ARGS...

    batch N BATCH       {"rate"}       N tasks sent in chunks of BATCH, one producer per chunk (no worker)
    single N IN_FLIGHT  {"rate"}       IN_FLIGHT threads, each calling noop.delay() in turn (no worker)
    drain N             {"rate"}       workers idle; N tasks sent (untimed) to a queue no worker reads, which
                                       then becomes the task queue at once; from then to the last completion
                                       (over drover: sent to the task queue, paused by celery.ts before the
                                       workers start; from its resume to the last completion)
    endtoend N          {"rate"}       workers consuming; N tasks sent in chunks of 1000; first send to last completion
    latency RATE SECS   {"latencies"}  workers consuming; one stamp task every 1/RATE s; enqueue-to-start in ms

Completions and latencies come from the reporters in celery_app.py. The workers (BENCH_WORKERS
of them) are started by celery.ts; scenarios that need them wait until all answer a ping (over
drover, which carries no ping, until all have said they are ready: celery_app.py's worker_ready).
The broker is celery_app.py's (BENCH_BROKER_URL, else BENCH_REDIS_URL); the counts are in BENCH_REDIS_URL.
"""
import json
import os
import sys
import threading
import time

import redis as redis_py

from celery_app import COUNTS, DONE, LAST, LATENCIES, OVER_DROVER, READY, app, noop, stamp

if OVER_DROVER:
    from drover.celery.connect import hub_of_app

TIMEOUT = 600  # s, for waiting on the workers
WORKERS = int(os.environ.get('BENCH_WORKERS', '1'))
redis = redis_py.Redis.from_url(COUNTS)


def send(n, batch, **options):
    """Sends n no-op tasks, each chunk of `batch` over one producer (Celery has no bulk publish)."""
    for start in range(0, n, batch):
        with app.producer_or_acquire() as producer:
            for _ in range(min(batch, n - start)):
                noop.apply_async(producer=producer, **options)


def wait_for_workers():
    """Until every worker answers a ping, i.e. is connected and consuming (tasks before control);
    over drover, until every worker has said it is ready (its consumer entering its loop)."""
    deadline = time.monotonic() + TIMEOUT
    while (redis.scard(READY) if OVER_DROVER else len(app.control.ping(timeout=0.5))) < WORKERS:
        if time.monotonic() > deadline:
            sys.exit(f'fewer than {WORKERS} celery workers answered')
        if OVER_DROVER:
            time.sleep(0.02)


def completed(n):
    """Waits until n tasks have completed; returns the time.monotonic() of the last completion."""
    deadline = time.monotonic() + TIMEOUT
    while sum(int(v) for v in redis.hvals(DONE)) < n:
        if time.monotonic() > deadline:
            sys.exit(f'only {sum(int(v) for v in redis.hvals(DONE))} of {n} tasks completed')
        time.sleep(0.005)
    return max(float(v) for v in redis.hvals(LAST))


def batch(n, size):
    started = time.perf_counter()
    send(n, size)
    return {'rate': n / (time.perf_counter() - started)}


def single(n, in_flight):
    left = iter(range(n))  # shared; next() on a range iterator is atomic under the GIL

    def sender():
        for _ in left:
            noop.delay()

    threads = [threading.Thread(target=sender) for _ in range(in_flight)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {'rate': n / (time.perf_counter() - started)}


def drain(n):
    if OVER_DROVER:
        return drain_drover(n)
    # The backlog goes to a queue no worker reads; renaming its Redis list to the task queue's
    # hands all of it over at once and wakes the workers blocked on BRPOP, like starting them.
    # (Celery's own add_consumer would only take effect when a worker's pending BRPOP times
    # out, up to 1 s later and at a different moment for each worker.)
    send(n, 1000, queue='backlog')
    wait_for_workers()
    started = time.monotonic()
    redis.rename('backlog', app.conf.task_default_queue)
    return {'rate': n / (completed(n) - started)}


def drain_drover(n):
    # The task queue is paused (celery.ts did it before starting the workers), so the backlog waits
    # in the hub; resuming it wakes the claims the workers hold open on it, like starting them.
    queue = app.conf.task_default_queue
    hub = hub_of_app(app)
    send(n, 1000)
    while hub.call('GET', f'/v1/queues/{queue}')['ready'] < n:  # every task recorded in the queue
        time.sleep(0.05)
    wait_for_workers()
    started = time.monotonic()
    hub.call('POST', f'/v1/queues/{queue}/resume', {})
    return {'rate': n / (completed(n) - started)}


def endtoend(n):
    wait_for_workers()
    started = time.monotonic()
    send(n, 1000)
    return {'rate': n / (completed(n) - started)}


def latency(rate, seconds):
    wait_for_workers()
    count = round(rate * seconds)
    started = time.perf_counter()
    for i in range(count):
        # Paced against the schedule, not the previous send.
        wait = started + i / rate - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        stamp.delay(time.monotonic())
    completed(count)
    return {'latencies': [float(v) * 1000 for v in redis.lrange(LATENCIES, 0, -1)]}


if __name__ == '__main__':
    scenario, *args = sys.argv[1:]
    numbers = [float(a) if '.' in a else int(a) for a in args]
    result = {'batch': batch, 'single': single, 'drain': drain, 'endtoend': endtoend, 'latency': latency}[scenario](*numbers)
    print(json.dumps(result), flush=True)
