package com.example.inventory;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class OrdersTest {
    @Test
    void placesAnOrder() {
        Inventory inventory = new Inventory();
        inventory.add("apple", 5);
        assertEquals(1, new Orders(inventory).place("ann", List.of("apple")));
    }

    @Test
    void countsWhatIsLeft() {
        Inventory inventory = new Inventory();
        inventory.add("pear", 5);
        new Orders(inventory).place("ann", List.of("pear"));
        assertEquals(4, inventory.available("pear"), "pears left");
    }

    @Test
    void refusesAnOrderItCannotServe() {
        Inventory inventory = new Inventory();
        new Orders(inventory).place("bob", List.of("fig"));
    }
}
