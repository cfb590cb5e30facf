package com.example.inventory;

import java.util.List;

/** Restocks, places an order, then one that cannot be served: with the argument `fail`,
 * that ends the program with an uncaught exception. */
public class App {
    public static void main(String[] args) throws Exception {
        Inventory inventory = new Inventory();
        Orders orders = new Orders(inventory);
        System.out.println(Orders.login("ann", System.getenv().getOrDefault("APP_PASSWORD", "s3cret-Pa55word")));
        orders.restock(List.of("apple", "pear"), 3);
        System.out.println("placed " + orders.place("ann", List.of("apple", "pear")) + " lines");
        try {
            orders.place("bob", List.of("pear", "pear"));
        } catch (IllegalStateException e) {
            System.out.println("refused: " + e.getMessage());
        }
        if (args.length > 0 && args[0].equals("fail")) {
            orders.place("carl", List.of("fig"));
        }
        System.out.println("apples left " + inventory.available("apple"));
    }
}
