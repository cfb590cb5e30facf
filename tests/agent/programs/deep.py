import os, sys
def parse_percentage(text):
    digits = text.rstrip("%")
    return float(digits)
def apply_discount(total, coupon):
    password = "hunter2-very-secret"
    rate = parse_percentage(coupon)
    return total * (1 - rate / 100)
def compute_total(items, coupon):
    subtotal = sum(items)
    return apply_discount(subtotal, coupon)
def process_order(cart, coupon):
    return compute_total(cart, coupon)
def main():
    print("start")
    print("token", os.environ.get("MY_API_TOKEN", "")[:0])
    return process_order([1.5, 2.5], sys.argv[1] if len(sys.argv) > 1 else "15%X")
print(main())
