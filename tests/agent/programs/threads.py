"""Several threads making many calls at once: chunks from all of them interleave."""
import sys
import threading


def leaf(i):
    return i


def branch(n):
    total = 0
    for i in range(n):
        total += leaf(i)
    return total


def worker(n, ready=None):
    if ready is not None:
        ready.wait()  # all threads alive at once: five lanes
    for _ in range(10):
        branch(n)


ready = threading.Barrier(5)
threads = [threading.Thread(target=worker, args=(2000, ready)) for _ in range(4)]
for t in threads:
    t.start()
worker(2000, ready)
for t in threads:
    t.join()
print("done")
