import threading, asyncio
def parse(text):
    password = "hunter2"
    return float(text)
def discount(total, coupon):
    pct = parse(coupon)
    return total * pct
def a(x): return [i for i in range(x)]
async def co(n):
    await asyncio.sleep(0)
    return n * 2
async def amain():
    return await asyncio.gather(co(1), co(2))
def worker(): a(3)
t = threading.Thread(target=worker); t.start(); t.join()
print(asyncio.run(amain()))
def g():
    yield 1
    yield 2
print(list(g()))
try:
    discount(10, "x")
except ValueError as e:
    print("caught", e)
print(discount(10, "0.5"))
