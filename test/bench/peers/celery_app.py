"""The Celery app of the bench: Redis as broker, no result backend, two no-op tasks.

Completions are counted without a per-task round trip: each pool process counts in memory
and a reporter thread writes its count, the time of its latest completion, and any
latencies to Redis every few ms (see Reporter). celery_bench.py reads them.
"""
import os
import threading
import time

import redis
from celery import Celery
from celery.signals import worker_process_init

BROKER = os.environ['BENCH_REDIS_URL']
# Keys the reporters write and celery_bench.py reads.
DONE = 'bench:done'  # hash: pool process id -> tasks completed
# Times are time.monotonic() (CLOCK_MONOTONIC): one clock for every process on the host.
LAST = 'bench:last'  # hash: pool process id -> time of its latest completion
LATENCIES = 'bench:latencies'  # list of enqueue-to-start seconds

app = Celery('bench', broker=BROKER)
app.conf.update(
    task_ignore_result=True,  # fire and forget: nothing goes to a result backend
    worker_prefetch_multiplier=int(os.environ.get('BENCH_PREFETCH', '4')),
    broker_connection_retry_on_startup=True,
)


class Reporter:
    """Per pool process: counts completions in memory and flushes them to Redis from a thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = 0
        self.last = 0.0
        self.latencies = []
        self.redis = redis.Redis.from_url(BROKER)
        self.key = str(os.getpid())
        threading.Thread(target=self.run, daemon=True).start()

    def completed(self):
        with self.lock:
            self.done += 1
            self.last = time.monotonic()

    def started(self, t0):
        with self.lock:
            self.latencies.append(time.monotonic() - t0)

    def run(self):
        flushed = 0
        while True:
            time.sleep(0.005)
            with self.lock:
                done, last, latencies, self.latencies = self.done, self.last, self.latencies, []
            if done == flushed and not latencies:
                continue
            pipe = self.redis.pipeline(transaction=False)
            pipe.hset(DONE, self.key, done)
            pipe.hset(LAST, self.key, last)
            if latencies:
                pipe.rpush(LATENCIES, *latencies)
            pipe.execute()
            flushed = done


reporter = None


@worker_process_init.connect
def _start_reporter(**_):
    # After the fork: each pool process gets its own thread and Redis connection.
    global reporter
    reporter = Reporter()


@app.task(ignore_result=True)
def noop():
    reporter.completed()


@app.task(ignore_result=True)
def stamp(t0):
    """A no-op that records how long it waited: `t0` is the producer's time.monotonic() at enqueue."""
    reporter.started(t0)
    reporter.completed()
