"""Arguments and return values at the edges of what the C hook packs itself."""
import asyncio
import os

SECRET = os.environ.get("APP_TOKEN", "")


def echo(value):
    return value


def pair(a, b=None, *rest, key=None, **extra):
    return [a, b]


def login(user, password):
    return len(password)


class Box:
    def __init__(self, item):
        self.item = item

    def get(self):
        return self.item


class MyInt(int):
    pass


def gen(n):
    for i in range(n):
        yield i


async def twice(x):
    await asyncio.sleep(0)
    return x * 2


def fails(x):
    raise KeyError(x)


EDGES = [0, 1, 127, 128, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64,
         -1, -32, -33, -128, -129, -32768, -32769, -2**31, -2**31 - 1, -2**63, -2**63 - 1,
         True, False, None, 0.0, -0.0, 1.5, -2.25e300, float("inf"), float("nan"),
         "", "a" * 31, "a" * 32, "a" * 255, "a" * 256, "a" * 200, "a" * 201, "é" * 200,
         "€" * 200, "\ud800", "x" + SECRET + "y", SECRET[:2], MyInt(3), b"bytes", (1, 2),
         [1, "a"], {"k": 1}, Box(1), echo]
for value in EDGES:
    echo(value)
pair(1, "two", 3, 4, key=5.0, other=None)
pair(None)
login("ann", "hunter2")
Box(2.5).get()
print(sum(gen(3)))
print(asyncio.run(twice(21)))
for bad in (1, "x"):
    try:
        fails(bad)
    except KeyError:
        pass
