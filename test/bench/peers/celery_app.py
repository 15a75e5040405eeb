"""The Celery app of the bench: two no-op tasks, no result backend, the broker from the environment.

    BENCH_REDIS_URL    the redis-server the completions are counted in; the broker too, unless
    BENCH_BROKER_URL   names another: drover://:TOKEN@host:port for Celery over drover
    BENCH_QUEUE        the task queue (task_default_queue), Celery's `celery` if unset

Completions are counted without a per-task round trip: each pool process counts in memory
and a reporter thread writes its count, the time of its latest completion, and any
latencies to Redis every few ms (see Reporter). celery_bench.py reads them.
"""
import os
import threading
import time

import redis
from celery import Celery
from celery.signals import worker_process_init, worker_ready

COUNTS = os.environ['BENCH_REDIS_URL']
BROKER = os.environ.get('BENCH_BROKER_URL', COUNTS)
OVER_DROVER = BROKER.startswith('drover')
if OVER_DROVER:
    import drover.celery  # noqa: F401 - registers the drover:// transport
# Keys the reporters write and celery_bench.py reads.
DONE = 'bench:done'  # hash: pool process id -> tasks completed
# Times are time.monotonic() (CLOCK_MONOTONIC): one clock for every process on the host.
LAST = 'bench:last'  # hash: pool process id -> time of its latest completion
LATENCIES = 'bench:latencies'  # list of enqueue-to-start seconds
READY = 'bench:ready'  # set of worker names that are consuming (over drover, which carries no ping)

app = Celery('bench', broker=BROKER)
app.conf.update(
    task_ignore_result=True,  # fire and forget: nothing goes to a result backend
    task_default_queue=os.environ.get('BENCH_QUEUE', 'celery'),  # Celery's default name unless set
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
        self.redis = redis.Redis.from_url(COUNTS)
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


if OVER_DROVER:
    # app.control.ping does not reach workers over drover (its transport carries only revoke over
    # fanout): each worker says it is ready here instead. Sent as the consumer enters its loop.
    @worker_ready.connect
    def _say_ready(sender, **_):
        redis.Redis.from_url(COUNTS).sadd(READY, sender.hostname)


@app.task(ignore_result=True)
def noop():
    reporter.completed()


@app.task(ignore_result=True)
def stamp(t0):
    """A no-op that records how long it waited: `t0` is the producer's time.monotonic() at enqueue."""
    reporter.started(t0)
    reporter.completed()
