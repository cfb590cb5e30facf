package com.example.inventory;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** A JUnit 4 test, as older projects have them. */
public class LegacyStockTest {
    @Test
    public void addsUp() {
        Inventory inventory = new Inventory();
        inventory.add("kiwi", 2);
        inventory.add("kiwi", 2);
        assertEquals("kiwis", 5, inventory.available("kiwi"));
    }

    @Test
    public void startsEmpty() {
        assertEquals(0, new Inventory().available("kiwi"));
    }
}
