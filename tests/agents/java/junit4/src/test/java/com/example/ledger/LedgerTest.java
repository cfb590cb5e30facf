package com.example.ledger;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/** JUnit 4 tests, run by Surefire's own JUnit 4 provider (no JUnit Platform here). */
public class LedgerTest {
    @Test
    public void depositsAddUp() {
        Ledger ledger = new Ledger();
        ledger.deposit("ann", 2);
        ledger.deposit("ann", 2);
        assertEquals("ann's balance", 5, ledger.balance("ann"));
    }

    @Test
    public void transfersMoveMoney() {
        Ledger ledger = new Ledger();
        ledger.deposit("ann", 3);
        ledger.transfer("ann", "bob", 7);
        assertEquals(7, ledger.balance("bob"));
    }

    @Test
    public void startsEmpty() {
        assertEquals(0, new Ledger().balance("ann"));
    }
}
