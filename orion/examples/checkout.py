"""A small checkout program with a bug five calls deep: a coupon like "SAVE15%X" reaches
float(). Record it with `orion run -- python examples/checkout.py --coupon SAVE15%X`."""

import argparse


def parse_percentage(text):
    digits = text.rstrip("%")
    return float(digits)


def apply_discount(total, coupon):
    rate = parse_percentage(coupon.removeprefix("SAVE"))
    return round(total * (1 - rate / 100), 2)


def compute_total(items, coupon):
    subtotal = sum(item["price"] * item["qty"] for item in items)
    return apply_discount(subtotal, coupon) if coupon else subtotal


def process_order(cart, coupon):
    total = compute_total(cart["items"], coupon)
    return {"customer": cart["customer"], "total": total}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--coupon", default="")
    args = parser.parse_args()
    cart = {"customer": "ada", "items": [{"sku": "book", "price": 12.5, "qty": 2},
                                         {"sku": "pen", "price": 1.25, "qty": 4}]}
    order = process_order(cart, args.coupon)
    print(f"{order['customer']} pays {order['total']:.2f}")


if __name__ == "__main__":
    main()
