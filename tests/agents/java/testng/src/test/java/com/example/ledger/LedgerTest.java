package com.example.ledger;

import static org.testng.Assert.assertEquals;

import org.testng.annotations.Test;

/** TestNG tests, run by Surefire's TestNG provider. */
public class LedgerTest {
    @Test
    public void depositsAddUp() {
        Ledger ledger = new Ledger();
        ledger.deposit("ann", 2);
        ledger.deposit("ann", 2);
        assertEquals(ledger.balance("ann"), 5, "ann's balance");
    }

    @Test
    public void transfersMoveMoney() {
        Ledger ledger = new Ledger();
        ledger.deposit("ann", 3);
        ledger.transfer("ann", "bob", 7);
        assertEquals(ledger.balance("bob"), 7);
    }

    @Test
    public void startsEmpty() {
        assertEquals(new Ledger().balance("ann"), 0);
    }
}
