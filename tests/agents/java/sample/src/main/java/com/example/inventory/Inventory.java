package com.example.inventory;

import java.util.LinkedHashMap;
import java.util.Map;

/** Stock levels by item. */
public class Inventory {
    private final Map<String, Integer> stock = new LinkedHashMap<>();

    public synchronized void add(String item, int quantity) {
        stock.merge(item, quantity, Integer::sum);
    }

    public synchronized int available(String item) {
        return stock.getOrDefault(item, 0);
    }

    /** Takes `quantity` of `item` out of stock; there must be enough. */
    public synchronized int remove(String item, int quantity) {
        int left = available(item) - quantity;
        if (left < 0) {
            throw new IllegalStateException("not enough " + item + ": short by " + -left);
        }
        stock.put(item, left);
        return left;
    }
}
